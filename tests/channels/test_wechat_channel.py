"""The wechat adapter over real HTTP against the local stand-in, with a real Redis."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup

from channels.base import (
    ChannelConfigError,
    Confirmation,
    PermanentError,
    RateLimitedError,
    Receipt,
    TransientError,
)
from channels.standins.wechat_server import RunningServer
from channels.wechat import WechatChannel
from channels.wechat.callback import PublishEvent, parse_event
from channels.wechat.errors import SHANGHAI, seconds_until_quota_reset
from publisher.domain.item import Operation, VersionView
from tests.factories import make_version
from tests.support import wait_for

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import AES_KEY, CALLBACK_TOKEN, ChannelFactory, ImageHost, submit_and_lose_the_answer
from .wechat_support import CallbackReceiver as Receiver

LONG_TITLE = "上海市财政局关于进一步加强和规范政府购买服务预算管理有关事项的通知（2019年修订版本）"


def policy(host: ImageHost, uid: str = "01policywithimages0000000001", **overrides: Any) -> VersionView:
    body = (
        "<h2>一、总体要求</h2><p>坚持公开为常态。</p>"
        f'<p><img src="{host.url("/img/chart.png")}" alt="预算图表"></p>'
        "<table><thead><tr><th>项目</th><th>金额（万元）</th></tr></thead>"
        "<tbody><tr><td>一般公共预算</td><td>1,200</td></tr></tbody></table>"
        f'<figure><img src="{host.url("/img/photo.jpg")}" alt="现场"><figcaption>现场照片</figcaption></figure>'
        '<p>详见<a href="https://www.gov.cn/zhengce/content/2019-04/15/content_5382991.htm">条例全文</a>。</p>'
    )
    values: dict[str, Any] = dict(
        uid=uid,
        title=LONG_TITLE,
        short_title="关于规范政府购买服务预算管理的通知",
        body_html=body,
        public_url=f"http://127.0.0.1:8000/items/{uid}",
        channel_urls={"cms": f"http://cms.local/?p={uid[-4:]}"},
    )
    values.update(overrides)
    return make_version(**values)


def wait_confirmed(channel: WechatChannel, receipt: Receipt, timeout: float = 5.0) -> Confirmation:
    return wait_for(lambda: channel.confirm(receipt), timeout, "the confirmation")


def publish(channel: WechatChannel, version: VersionView, key: str | None = None) -> Receipt:
    payload = channel.render(version, Operation.PUBLISH)
    return channel.send(payload, key=key or f"{version.uid}:{version.version}:publish")


@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_policy_publishes_end_to_end(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost, receiver: Receiver, mode: str
) -> None:
    # given a server that pushes signed events to our receiver
    wechat.admin(
        "POST", "config", {"callback_url": receiver.url, "aes_key": AES_KEY if mode == "aes" else None}
    )
    channel = make_channel(callback_aes_key=AES_KEY if mode == "aes" else None)
    version = policy(image_host)
    assert channel.check(version) == []

    # when
    receipt = publish(channel, version)

    # then: accepted, not yet delivered
    assert receipt.accepted and receipt.external_id
    assert channel.confirm(receipt) is None
    confirmation = wait_confirmed(channel, receipt)
    assert (
        confirmation.delivered is True and confirmation.url and confirmation.url.startswith(wechat.base_url)
    )

    state = wechat.state()
    job = state["publishes"][receipt.external_id]
    stored = job["articles"][0]
    assert stored["title"] == version.short_title
    assert stored["content_source_url"] == version.channel_urls["cms"]
    soup = BeautifulSoup(stored["content"], "html.parser")
    srcs = [str(img["src"]) for img in soup.find_all("img")]
    assert len(srcs) == 2 and all(src.startswith(wechat.base_url) for src in srcs)
    assert not soup.find_all(["script", "iframe", "form", "style", "figure"])
    assert not [a for a in soup.find_all("a")], "external links must become text"
    assert "https://www.gov.cn/zhengce/content/2019-04/15/content_5382991.htm" in soup.get_text()
    td, h2 = soup.find("td"), soup.find("h2")
    assert soup.find("table") is not None and td is not None and h2 is not None
    assert "border" in str(td["style"]) and "font-size" in str(h2["style"])
    assert len(state["images"]) == 2 and state["counters"]["api_calls"]["media/uploadimg"] == 2

    # and the signed PUBLISHJOBFINISH reaches the receiver and parses to the same outcome
    assert receiver.arrived.wait(5)
    push = receiver.pushes[0]
    assert (push.query.get("encrypt_type") == "aes") == (mode == "aes")
    event = parse_event(
        push.query,
        push.body,
        token=CALLBACK_TOKEN,
        aes_key=AES_KEY if mode == "aes" else None,
        appid=wechat.config.appid,
    )
    assert isinstance(event, PublishEvent)
    assert event.publish_id == receipt.external_id and event.status == 0
    assert event.confirmation() == confirmation


def test_retry_after_lost_answer_does_not_publish_twice(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost
) -> None:
    channel = make_channel()
    version = policy(image_host)
    first = publish(channel, version, key="delivery-1")
    again = publish(channel, version, key="delivery-1")
    assert again.external_id == first.external_id
    calls = wechat.state()["counters"]["api_calls"]
    assert (
        calls["freepublish/submit"] == 1 and calls["draft/add"] == 1 and calls["material/add_material"] == 1
    )


def test_retry_after_a_failed_draft_uploads_nothing_again(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost
) -> None:
    # given: the cover and both in-body images uploaded, then draft/add refused (system busy)
    channel = make_channel()
    version = policy(image_host, cover_url=image_host.url("/img/cover.jpg"))
    wechat.fault(errcode=-1, count=1, paths=["draft/add"])
    with pytest.raises(TransientError):
        publish(channel, version, key="draft-busy")
    # when: the ledger retries the delivery
    receipt = publish(channel, version, key="draft-busy")
    # then: the cover comes from the checkpoint and the images from the shared image cache
    # (they are not checkpointed one by one): each was uploaded once, the draft made once
    calls = wechat.state()["counters"]["api_calls"]
    assert receipt.accepted and calls["draft/add"] == 2 and calls["freepublish/submit"] == 1
    assert calls["material/add_material"] == 1 and calls["media/uploadimg"] == 2


def test_lost_submit_answer_is_recovered_from_the_publication(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    # given: an older publication of the same item, then a submit whose answer was lost
    channel = make_channel()
    version = make_version(uid="lostsubmit0000000000000001")
    older = publish(channel, version, key="older")
    assert wait_confirmed(channel, older).delivered is True
    submit_and_lose_the_answer(channel, version, "lost-1")

    # when: the ledger retries the delivery (the publication may take a moment to appear)
    def retried() -> Receipt | None:
        try:
            return channel.send(channel.render(version, Operation.PUBLISH), key="lost-1")
        except TransientError as exc:
            assert "尚未出现" in exc.message  # only "not there yet" is worth another try
            return None

    receipt = wait_for(retried, 10, "the lost submit's publication found", every=0.2)
    # then: delivered from the publication made by the lost submit, never submitted twice
    state = wechat.state()
    assert state["counters"]["api_calls"]["freepublish/submit"] == 2  # the older one and the lost one
    assert receipt.accepted is False and receipt.data["recovered"] is True
    assert receipt.external_id != older.external_id
    published = {str(p["article_id"]) for p in state["publishes"].values() if p.get("article_id")}
    assert receipt.external_id in published
    again = channel.send(channel.render(version, Operation.PUBLISH), key="lost-1")
    assert again.external_id == receipt.external_id
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 2


def test_lost_submit_with_no_publication_gives_up_after_patience(
    make_channel: ChannelFactory, wechat: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the draft left the box (deleted by hand) but nothing was published
    channel = make_channel()
    version = make_version(uid="lostsubmit0000000000000002")
    payload = channel.render(version, Operation.PUBLISH)
    progress: dict[str, Any] = {}
    article = channel.prepare_article(payload.body, progress, lambda: None)
    media_id = str(channel.api.post("draft/add", "draft/add", {"articles": [article]})["media_id"])
    channel.api.post("draft/delete", "draft/delete", {"media_id": media_id})
    channel.save_progress(
        "lost-2", {**progress, "media_id": media_id, "submitting": True, "submitted_at": int(time.time()) - 5}
    )
    # then: transient while WeChat may still be publishing, permanent after the patience
    with pytest.raises(TransientError, match="尚未出现"):
        channel.send(payload, key="lost-2")
    monkeypatch.setattr("channels.wechat.channel.LOST_SUBMIT_PATIENCE", 0)
    with pytest.raises(PermanentError, match="no publication was found"):
        channel.send(payload, key="lost-2")
    assert wechat.state()["counters"]["api_calls"].get("freepublish/submit", 0) == 0


def test_item_without_cover_gets_a_generated_thumb_and_a_cover_is_reencoded(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost
) -> None:
    channel = make_channel()
    publish(channel, make_version(uid="nocover"))
    publish(channel, make_version(uid="withcover", cover_url=image_host.url("/img/cover.jpg")))
    materials = list(wechat.state()["materials"].values())
    assert sorted(m["type"] for m in materials) == ["image", "thumb"]
    generated = next(m for m in materials if m["type"] == "thumb")
    assert generated["format"] == "jpg" and generated["bytes"] <= 64 * 1024


@pytest.mark.parametrize(("status", "reason"), [(2, "原创"), (3, "发布失败"), (4, "平台审核未通过")])
def test_failed_publish_job_is_reported_in_chinese(
    make_channel: ChannelFactory, wechat: RunningServer, status: int, reason: str
) -> None:
    wechat.fault(publish_status=status)
    channel = make_channel()
    receipt = publish(channel, make_version())
    confirmation = wait_confirmed(channel, receipt)
    assert confirmation.delivered is False and confirmation.error and reason in confirmation.error


def test_deleted_or_banned_after_success_is_flagged(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    receipt = publish(channel, make_version())
    assert wait_confirmed(channel, receipt).delivered is True
    wechat.admin("POST", f"publishes/{receipt.external_id}/ban")
    banned = channel.confirm(receipt)
    assert banned is not None and banned.delivered is True and banned.flag and "封禁" in banned.flag


def test_token_expiry_in_the_middle_of_a_batch(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    channel = make_channel()
    receipts = []
    for n in range(4):
        if n == 2:
            wechat.admin("POST", "expire_tokens")
        receipts.append(publish(channel, make_version(uid=f"batch{n}")))
    assert all(r.accepted for r in receipts)
    counters = wechat.state()["counters"]
    assert counters["token_fetches"] == 2  # the first and exactly one refresh
    # the rejected call was repeated once, nothing more
    assert counters["api_calls"]["material/add_material"] == 5


def test_token_still_rejected_after_one_refresh_is_transient(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    wechat.fault(errcode=40001, count=-1, paths=["draft/add"])
    with pytest.raises(TransientError) as caught:
        publish(channel, make_version())
    assert caught.value.provider_code == "40001"
    counters = wechat.state()["counters"]
    assert counters["api_calls"]["draft/add"] == 2 and counters["token_fetches"] == 2


def test_quota_exhausted_is_rate_limited_until_shanghai_midnight(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    wechat.fault(errcode=45009, count=-1, paths=["freepublish/submit"])
    with pytest.raises(RateLimitedError) as caught:
        publish(channel, make_version())
    expected = seconds_until_quota_reset(datetime.now(SHANGHAI))
    assert caught.value.provider_code == "45009"
    assert expected <= caught.value.retry_after <= expected + 5
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 1


def test_burst_of_system_busy_is_transient_each_time_then_resumes(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    wechat.fault(errcode=-1, count=3, paths=["draft/add"])
    version = make_version()
    for _ in range(3):
        with pytest.raises(TransientError) as caught:
            publish(channel, version)
        assert caught.value.provider_code == "-1"
    receipt = publish(channel, version)
    assert receipt.accepted
    calls = wechat.state()["counters"]["api_calls"]
    assert calls["draft/add"] == 4  # one per attempt: the adapter never loops
    assert calls["material/add_material"] == 1  # the cover from attempt 1 was kept


def test_http_500_and_slowness_are_transient(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    channel = make_channel(read_timeout=1.5)  # wide enough for a loaded CI machine
    wechat.fault(http_status=500, count=1, paths=["draft/add"])
    with pytest.raises(TransientError) as caught:
        publish(channel, make_version(), key="k")
    assert caught.value.http_status == 500
    wechat.fault(delay=4, count=1, paths=["draft/add"])
    with pytest.raises(TransientError, match="超时"):
        publish(channel, make_version(), key="k")
    assert publish(channel, make_version(), key="k").accepted


def test_content_rejection_is_permanent(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    channel = make_channel()
    with pytest.raises(PermanentError) as caught:
        publish(channel, make_version(title="题" * 40))  # check() would have said so
    assert caught.value.provider_code == "45003"


def test_bad_secret_is_a_config_error(make_channel: ChannelFactory) -> None:
    channel = make_channel(secret="wrong-secret")
    with pytest.raises(ChannelConfigError) as caught:
        publish(channel, make_version())
    assert caught.value.provider_code == "40125"


def test_no_token_fetch_storm_across_workers(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    # eight workers, each with its own adapter and client, one shared Redis token
    channels = [make_channel() for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(channels))

    def work(n: int, channel: WechatChannel) -> None:
        try:
            start.wait()
            publish(channel, make_version(uid=f"storm{n}a"))
            start.wait()  # every first publish done: the expiry hits no request in flight
            if n == 0:
                wechat.admin("POST", "expire_tokens")
            start.wait()
            publish(channel, make_version(uid=f"storm{n}b"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, c)) for n, c in enumerate(channels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    counters = wechat.state()["counters"]
    assert counters["token_fetches"] == 2
    assert counters["api_calls"]["freepublish/submit"] == 16


def test_withdraw_deletes_exactly_that_article(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    channel = make_channel()
    keep = publish(channel, make_version(uid="keepme", public_url="http://127.0.0.1:8000/items/keepme"))
    gone = publish(channel, make_version(uid="gone", public_url="http://127.0.0.1:8000/items/gone"))
    wait_confirmed(channel, keep)
    confirmed = wait_confirmed(channel, gone)

    # a fresh worker that never saw the confirmation still finds the article (by URL)
    other = make_channel(key_prefix=channel.settings.key_prefix + ":other")
    withdrawn = make_version(
        uid="gone", public_url="http://127.0.0.1:8000/items/gone", channel_urls={"wechat": confirmed.url}
    )
    receipt = other.send(other.render(withdrawn, Operation.WITHDRAW), key="gone:withdraw")
    assert receipt.data["deleted"] == [{"article_id": confirmed.data["article_id"], "index": 1}]

    state = wechat.state()
    assert state["delete_log"] == [{"article_id": confirmed.data["article_id"], "index": 1}]
    assert state["publishes"][gone.external_id]["publish_status"] == 5
    assert state["publishes"][keep.external_id]["publish_status"] == 0
    kept = state["articles"][state["publishes"][keep.external_id]["article_id"]]["items"]
    assert [i["is_deleted"] for i in kept] == [False]

    # withdrawing again finds nothing left and still succeeds
    again = other.send(other.render(withdrawn, Operation.WITHDRAW), key="gone:withdraw:2")
    assert again.data["absent"] is True, again


def test_update_as_correction_keeps_the_original(make_channel: ChannelFactory, wechat: RunningServer) -> None:
    channel = make_channel(update_mode="correction")
    first = publish(channel, make_version())
    wait_confirmed(channel, first)
    v2 = make_version(version=2, body_html="<p>修订后的正文。</p>")
    second = channel.send(channel.render(v2, Operation.UPDATE), key="v2:update")
    wait_confirmed(channel, second)
    state = wechat.state()
    titles = [state["publishes"][r.external_id]["articles"][0]["title"] for r in (first, second)]
    assert titles[1].startswith("【更新】") and not titles[0].startswith("【")
    assert all(state["publishes"][r.external_id]["publish_status"] == 0 for r in (first, second))
    assert state["delete_log"] == []


def test_update_as_republish_replaces_the_original(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="republish")
    first = publish(channel, make_version())
    wait_confirmed(channel, first)
    v2 = make_version(version=2, body_html="<p>修订后的正文。</p>")
    second = channel.send(channel.render(v2, Operation.UPDATE), key="v2:update")
    assert wait_confirmed(channel, second).delivered
    state = wechat.state()
    assert state["publishes"][first.external_id]["publish_status"] == 5
    assert state["publishes"][second.external_id]["publish_status"] == 0
    assert [d["index"] for d in state["delete_log"]] == [1]


def test_abolition_never_leaves_the_original_live_even_in_correction_mode(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    from datetime import date

    channel = make_channel(update_mode="correction")
    first = publish(channel, make_version())
    wait_confirmed(channel, first)
    abolished = make_version(version=2, validity="已废止", validity_changed_on=date(2026, 12, 1))
    second = channel.send(channel.render(abolished, Operation.UPDATE), key="v2:abolish")
    assert wait_confirmed(channel, second).delivered
    state = wechat.state()
    # the original (which says 有效) is deleted; the one live article says 已废止
    assert state["publishes"][first.external_id]["publish_status"] == 5
    [article] = state["publishes"][second.external_id]["articles"]
    assert article["title"].startswith("【已废止】") and "本文件已于2026-12-01废止" in article["content"]
    assert [d["index"] for d in state["delete_log"]] == [1]
    live = [h for h in channel.inventory() if h.live]
    assert [(h.uid, h.validity) for h in live] == [(abolished.uid, "已废止")]


def test_abolition_in_notice_mode_leaves_only_a_short_notice_linking_to_the_abolishing_document(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost
) -> None:
    from datetime import date

    # given a policy with pictures live on WeChat, and an account set to leave a notice
    channel = make_channel(update_mode="correction", abolition_mode="notice")
    original = policy(image_host)
    first = publish(channel, original)
    assert wait_confirmed(channel, first).delivered
    uploads = wechat.state()["counters"]["api_calls"]["media/uploadimg"]

    # when it is abolished by another document
    by = "01abolishingnotice000000001"
    abolished = policy(
        image_host, version=2, validity="已废止", validity_changed_on=date(2026, 12, 1), abolished_by=by
    )
    second = channel.send(channel.render(abolished, Operation.UPDATE), key="v2:abolish")
    assert wait_confirmed(channel, second).delivered

    # then the original is deleted (it said 有效) and the one live article is a short notice
    state = wechat.state()
    assert state["publishes"][first.external_id]["publish_status"] == 5
    assert [d["index"] for d in state["delete_log"]] == [1]
    [article] = state["publishes"][second.external_id]["articles"]
    assert article["title"] == "【已废止】关于规范政府购买服务预算管理的通知"
    text = BeautifulSoup(article["content"], "html.parser").get_text()
    assert "本文件已于2026-12-01废止" in text and "原文已删除" in text
    assert f"http://127.0.0.1:8000/items/{by}" in text  # the abolishing document
    assert "坚持公开为常态" not in text and "<img" not in article["content"]  # no body, no pictures
    assert article["digest"].startswith("本文件已于2026-12-01废止")
    # “阅读原文” stays this item's own address: withdrawal and reconcile find the notice by it
    assert article["content_source_url"] == original.channel_urls["cms"]
    assert state["counters"]["api_calls"]["media/uploadimg"] == uploads  # nothing fetched or uploaded again
    live = [h for h in channel.inventory() if h.live]
    assert [(h.uid, h.validity) for h in live] == [(abolished.uid, "已废止")]

    # and a later withdrawal deletes the notice too: nothing of the item is left live
    gone = channel.send(channel.render(abolished, Operation.WITHDRAW), key="v3:withdraw")
    assert gone.data["deleted"] == [
        {"article_id": state["publishes"][second.external_id]["article_id"], "index": 1}
    ]
    assert [h for h in channel.inventory() if h.live] == []


def test_abolition_in_republish_mode_keeps_the_full_text_under_the_mark(
    make_channel: ChannelFactory, wechat: RunningServer, image_host: ImageHost
) -> None:
    from datetime import date

    channel = make_channel(abolition_mode="republish")
    first = publish(channel, policy(image_host))
    assert wait_confirmed(channel, first).delivered
    abolished = policy(image_host, version=2, validity="已废止", validity_changed_on=date(2026, 12, 1))
    second = channel.send(channel.render(abolished, Operation.UPDATE), key="v2:abolish")
    assert wait_confirmed(channel, second).delivered
    [article] = wechat.state()["publishes"][second.external_id]["articles"]
    text = BeautifulSoup(article["content"], "html.parser").get_text()
    assert article["title"].startswith("【已废止】") and "坚持公开为常态" in text
    assert "原文已删除" not in text
