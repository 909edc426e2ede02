"""The wechat channel through the ledger: approve -> embedded executor -> the local WeChat
stand-in over real HTTP -> accepted -> delivered, confirmed by the stand-in's signed
PUBLISHJOBFINISH pushed to a real uvicorn serving create_app(runtime) (or, with callbacks
off, by the sweeper's freepublish/get polling). Failure paths end in the right ledger state
with bounded attempts, counted on the stand-in. No Redis unless a test asks for the token
cache (db 5 under this module's own prefix): the adapter's progress lives in the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup

from channels.standins.wechat_server import RunningServer, sha1_signature
from channels.wechat.errors import seconds_until_quota_reset
from publisher.delivery.executor import EmbeddedExecutor
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings
from publisher.web import create_app
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, redis_prefix)
from tests.channels.wechat_support import AES_KEY, CALLBACK_TOKEN, REDIS_URL, ImageHost
from tests.conftest import Team
from tests.publisher.web.live import serve
from tests.support import after_sweeps, wait_for
from tests.support import publish as approve

SECRET_ENV = "PUBLISHER_TEST_WECHAT_SECRET"
TOKEN_ENV = "PUBLISHER_TEST_WECHAT_TOKEN"
AES_ENV = "PUBLISHER_TEST_WECHAT_AES_KEY"
LONG_TITLE = "上海市财政局关于进一步加强和规范政府购买服务预算管理有关事项的通知（2019年修订版本）"
SHORT_TITLE = "关于规范政府购买服务预算管理的通知"
SOURCE = "https://www.gov.cn/zhengce/content/2019-04/15/content_5382991.htm"
MAX_ATTEMPTS = 4
RETRY: dict[str, Any] = {
    "base_seconds": 0.05,
    "cap_seconds": 0.2,
    "jitter": 0.0,
    "max_attempts": MAX_ATTEMPTS,
}
BREAKER = {"failures": 50}  # these tests count attempts; the breaker has its own tests
POLL_FAST, POLL_NEVER = 0.1, 3600.0


@dataclass
class Deployment:
    rt: Runtime
    url: str  # where create_app(rt) is served

    @property
    def callback_url(self) -> str:
        return f"{self.url}/callbacks/wechat"


Deploy = Callable[..., Deployment]


@pytest.fixture
def deploy(
    settings: Settings,
    team: Team,
    wechat: RunningServer,
    image_host: ImageHost,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deploy]:
    """The service with only the wechat channel, its web app on a free port, and the
    stand-in pushing to that app's /callbacks/wechat (unless `callbacks=False`)."""
    monkeypatch.setenv(SECRET_ENV, wechat.config.secret)
    monkeypatch.setenv(TOKEN_ENV, CALLBACK_TOKEN)
    monkeypatch.setenv(AES_ENV, AES_KEY)
    stack = ExitStack()

    def make(
        *,
        callbacks: bool = True,
        aes: bool = False,
        poll: float = POLL_NEVER,
        threads: int = 2,
        retry: dict[str, Any] | None = None,
        redis: str | None = None,
        rss: bool = False,
        hosts: list[str] | None = None,
        **extra: Any,
    ) -> Deployment:
        section: dict[str, Any] = {
            "enabled": True,
            "api_base_url": wechat.api_base_url,
            "appid": wechat.config.appid,
            "secret_env": SECRET_ENV,
            "callback_token_env": TOKEN_ENV,
            "key_prefix": redis_prefix,
            "allowed_image_hosts": [image_host.netloc] if hosts is None else hosts,
            "read_timeout": 5.0,
            "retry": retry or RETRY,
            "breaker": BREAKER,
            "confirm_interval_seconds": poll,
            **extra,  # any other key of [channels.wechat]
        }
        if aes:
            section["callback_aes_key_env"] = AES_ENV
        if redis:
            section["redis_url"] = redis
        # the bodies link to gov.cn, unreachable offline: the approval's link check is tested
        # with its own servers (tests/publisher/editorial/checks/test_links.py)
        rt = build_runtime(
            settings.replace(
                channels={"wechat": section, **({"rss": {"enabled": True}} if rss else {})},
                checks=settings.checks.model_copy(update={"links": False}),
                # the image host is on loopback: allow-listed as an operator would
                egress=settings.egress.model_copy(update={"allow_hosts": [image_host.netloc]}),
            )
        )
        stack.callback(rt.close)
        use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=threads, sweep_interval=0.05))
        rt.start()
        deployment = Deployment(rt, stack.enter_context(serve(create_app(rt))))
        wechat.admin(
            "POST",
            "config",
            {
                "callback_url": deployment.callback_url if callbacks else None,
                "aes_key": AES_KEY if aes else None,
            },
        )
        return deployment

    with stack:
        yield make


def deliveries(rt: Runtime, uid: str) -> list[dict[str, Any]]:
    return rt.service.deliveries(uid)


def the_delivery(rt: Runtime, uid: str) -> dict[str, Any]:
    [d] = deliveries(rt, uid)
    return d


def state_of(rt: Runtime, uid: str) -> str:
    return str(the_delivery(rt, uid)["state"])


def outcomes(rt: Runtime, delivery_id: int) -> list[str]:
    return [a["outcome"] for a in rt.service.attempts(delivery_id)]


def calls(wechat: RunningServer) -> dict[str, int]:
    result: dict[str, int] = wechat.state()["counters"]["api_calls"]
    return result


def rich_policy(host: ImageHost) -> dict[str, Any]:
    body = (
        "<h2>一、总体要求</h2><p>坚持公开为常态、不公开为例外。</p>"
        f'<p><img src="{host.url("/img/chart.png")}" alt="预算图表"></p>'
        "<table><thead><tr><th>项目</th><th>金额（万元）</th></tr></thead>"
        "<tbody><tr><td>一般公共预算</td><td>1,200</td></tr><tr><td>政府性基金</td><td>300</td></tr></tbody></table>"
        f'<p><img src="{host.url("/img/photo.jpg")}" alt="现场"></p>'
        f'<p>详见<a href="{SOURCE}">条例全文</a>。</p>'
    )
    return {
        "title": LONG_TITLE,
        "short_title": SHORT_TITLE,
        "body_html": body,
        "cover_url": host.url("/img/cover.jpg"),
    }


@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_policy_with_images_table_and_link_is_delivered_on_the_callback(
    deploy: Deploy, team: Team, wechat: RunningServer, image_host: ImageHost, mode: str
) -> None:
    # given the stand-in pushing PUBLISHJOBFINISH to our app; polling effectively off
    dep = deploy(aes=mode == "aes")
    rt = dep.rt

    # when a policy with two images, a table, a long title (and a short one) and a link is approved
    uid = approve(rt, team, **rich_policy(image_host))

    # then it is accepted (one attempt), and the push makes it delivered
    wait_for(lambda: state_of(rt, uid) == "delivered", what="delivered by the callback")
    d = the_delivery(rt, uid)
    assert outcomes(rt, d["id"]) == ["accepted"]
    state = wechat.state()
    job = state["publishes"][d["external_id"]]
    assert job["publish_status"] == 0 and d["url"] == job["articles"][0]["url"]
    assert state["counters"]["callbacks_sent"] == 1 and state["callbacks"][0]["http_status"] == 200
    assert calls(wechat).get("freepublish/get", 0) == 0  # the push did it, not polling
    assert calls(wechat)["freepublish/submit"] == 1 and state["counters"]["token_fetches"] == 1

    # and the article WeChat stored has only WeChat-hosted images and allowed markup
    [article] = job["articles"]
    assert article["title"] == SHORT_TITLE
    assert article["content_source_url"] == f"{rt.settings.public_base_url}/items/{uid}"
    soup = BeautifulSoup(article["content"], "html.parser")
    srcs = [str(img["src"]) for img in soup.find_all("img")]
    assert len(srcs) == 2 and all(src.startswith(wechat.base_url) for src in srcs)
    assert not soup.find_all(["script", "iframe", "form", "a"])
    assert SOURCE in soup.get_text()
    assert [td.get_text() for td in soup.find_all("td")] == ["一般公共预算", "1,200", "政府性基金", "300"]
    assert len(state["images"]) == 2
    [cover] = state["materials"].values()
    assert cover["type"] == "image" and cover["format"] == "jpg"
    assert sorted(image_host.hits) == ["/img/chart.png", "/img/cover.jpg", "/img/photo.jpg"]
    assert rt.service.item_detail(uid)["delivery_status"] == "published"


@pytest.mark.parametrize("status", [401, 403])
def test_an_image_host_refusing_us_fails_that_item_and_never_pauses_the_channel(
    deploy: Deploy, team: Team, wechat: RunningServer, image_host: ImageHost, status: int
) -> None:
    # issue 18: a 401/403 from an in-body image's host is that item's problem; only WeChat's
    # own API rejecting our credentials may pause the channel
    dep = deploy(poll=POLL_FAST)
    url = image_host.url("/img/private.png")
    image_host.routes["/img/private.png"] = (status, {"Content-Type": "text/plain"}, b"denied")
    bad = approve(dep.rt, team, body_html=f'<p>正文</p><p><img src="{url}" alt="内部图片"></p>')
    wait_for(lambda: state_of(dep.rt, bad) == "failed", what="the item with the refused image failed")
    d = the_delivery(dep.rt, bad)
    assert outcomes(dep.rt, d["id"]) == ["permanent"]
    assert url in d["last_error"] and str(status) in d["last_error"]
    assert dep.rt.deliveries.channel_status("wechat")["paused"] is False
    assert not [e for e in dep.rt.service.audit_events() if e["action"] == "channel.pause"]
    # the next item goes out as usual
    good = approve(dep.rt, team, title="关于预算公开工作的通知")
    wait_for(lambda: state_of(dep.rt, good) == "delivered", what="the next item delivered")


def test_with_callbacks_off_polling_confirms(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    dep = deploy(callbacks=False, poll=POLL_FAST)
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "delivered", what="delivered by polling")
    d = the_delivery(dep.rt, uid)
    assert outcomes(dep.rt, d["id"]) == ["accepted"]
    state = wechat.state()
    assert state["counters"]["callbacks_sent"] == 0 and state["callbacks"] == []
    assert calls(wechat)["freepublish/get"] >= 1
    assert d["url"] == state["publishes"][d["external_id"]]["articles"][0]["url"]


def test_token_expiry_in_the_middle_of_a_batch(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    dep = deploy(threads=3)
    first = [approve(dep.rt, team, title=f"关于第{n}批预算公开的通知") for n in range(3)]
    wait_for(lambda: any(state_of(dep.rt, u) in ("accepted", "delivered") for u in first))
    wechat.admin("POST", "expire_tokens")  # every token WeChat issued so far now answers 42001
    rest = [approve(dep.rt, team, title=f"关于第{n}批预算公开的通知") for n in range(3, 6)]
    uids = first + rest
    wait_for(lambda: all(state_of(dep.rt, u) == "delivered" for u in uids), what="batch delivered")
    for uid in uids:  # the adapter refreshed and repeated the rejected call: no ledger retry
        assert outcomes(dep.rt, the_delivery(dep.rt, uid)["id"]) == ["accepted"]
    counters = wechat.state()["counters"]
    assert counters["token_fetches"] == 2  # the first token and exactly one refresh, whatever the concurrency
    # one publish per item; a call rejected for its token is repeated once, so at most one
    # extra call per delivery in flight when the tokens expired (3 threads)
    assert len(wechat.state()["publishes"]) == 6
    assert 6 <= calls(wechat)["freepublish/submit"] <= 6 + 3


def test_daily_quota_waits_for_shanghai_midnight_without_retrying(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy()
    wechat.fault(errcode=45009, count=-1, paths=["freepublish/submit"])
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "retry_wait")
    d = the_delivery(dep.rt, uid)
    [attempt] = dep.rt.service.attempts(d["id"])
    assert attempt["outcome"] == "rate_limited" and attempt["provider_code"] == "45009"
    assert "45009" in d["last_error"] and "每日限额" in d["last_error"]
    due = datetime.fromisoformat(d["next_attempt_at"])
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    until = (due - datetime.now(UTC)).total_seconds()
    assert seconds_until_quota_reset() - 10 <= until <= seconds_until_quota_reset() + 1
    # nothing is retried before then: after several sweeper rounds still one attempt, one
    # submit, the uploads not repeated
    after_sweeps(dep.rt, 10)
    assert dep.rt.service.attempts(d["id"]) == [attempt] and state_of(dep.rt, uid) == "retry_wait"
    assert calls(wechat)["freepublish/submit"] == 1 and calls(wechat)["material/add_material"] == 1


def test_review_failure_fails_with_the_chinese_reason(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy()
    wechat.fault(publish_status=4)
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "failed")
    d = the_delivery(dep.rt, uid)
    assert d["last_error"] == "平台审核未通过 / platform review failed（第 1 篇 / article 1）"
    assert outcomes(dep.rt, d["id"]) == ["accepted"]  # accepted, then failed by the push: never resent
    assert calls(wechat)["freepublish/submit"] == 1
    assert dep.rt.service.item_detail(uid)["delivery_status"] != "published"


def test_a_burst_of_system_busy_is_retried_and_bounded(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy()
    # a burst shorter than the retry budget: delivered on the fourth attempt
    wechat.fault(errcode=-1, count=3, paths=["draft/add"])
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "delivered")
    d = the_delivery(dep.rt, uid)
    assert outcomes(dep.rt, d["id"]) == ["transient"] * 3 + ["accepted"]
    assert calls(wechat)["draft/add"] == 4
    assert calls(wechat)["material/add_material"] == 1  # the cover uploaded in attempt 1 was kept

    # a burst that outlasts the budget: failed after exactly max_attempts, with the reason
    wechat.fault(errcode=-1, count=-1, paths=["draft/add"])
    other = approve(dep.rt, team, title="关于加强预算绩效管理的通知")
    wait_for(lambda: state_of(dep.rt, other) == "failed")
    failed = the_delivery(dep.rt, other)
    assert outcomes(dep.rt, failed["id"]) == ["transient"] * MAX_ATTEMPTS
    assert failed["last_error"].startswith(f"重试{MAX_ATTEMPTS}次后仍失败")
    assert "微信系统繁忙" in failed["last_error"]
    assert calls(wechat)["draft/add"] == 4 + MAX_ATTEMPTS
    assert wechat.state()["counters"]["token_fetches"] == 1  # errors never caused token fetches


def test_withdraw_deletes_exactly_that_article(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    dep = deploy()
    keep = approve(dep.rt, team)
    gone = approve(dep.rt, team, title="关于废止部分规范性文件的通知")
    wait_for(lambda: state_of(dep.rt, keep) == "delivered" and state_of(dep.rt, gone) == "delivered")
    kept_job = the_delivery(dep.rt, keep)["external_id"]
    gone_job = the_delivery(dep.rt, gone)["external_id"]

    dep.rt.service.withdraw(team.approver, gone, "误发，撤回 / published in error")
    wait_for(lambda: [d["state"] for d in deliveries(dep.rt, gone)] == ["delivered", "delivered"])

    state = wechat.state()
    gone_article = state["publishes"][gone_job]["article_id"]
    assert state["delete_log"] == [{"article_id": gone_article, "index": 1}]  # never index 0
    assert state["publishes"][gone_job]["publish_status"] == 5
    assert state["publishes"][kept_job]["publish_status"] == 0
    assert [
        i["is_deleted"] for i in state["articles"][state["publishes"][kept_job]["article_id"]]["items"]
    ] == [False]
    assert httpx.get(the_delivery(dep.rt, keep)["url"], timeout=5).status_code == 200
    assert httpx.get(deliveries(dep.rt, gone)[0]["url"], timeout=5).status_code == 404
    assert dep.rt.service.item_detail(gone)["delivery_status"] == "withdrawn"


def test_a_forged_callback_is_refused(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    # given a delivery still accepted (the job takes a while at WeChat)
    dep = deploy()
    wechat.admin("POST", "config", {"publish_delay": 2.0})
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "accepted")
    d = the_delivery(dep.rt, uid)

    # when someone without the token pushes "review failed" for its publish_id
    xml = wechat.standin.publish_event_xml(
        {"publish_id": d["external_id"], "publish_status": 4, "fail_idx": [1]}
    )
    ts, nonce = str(int(datetime.now(UTC).timestamp())), "271828"
    forged = httpx.post(
        dep.callback_url,
        content=xml.encode(),
        timeout=5,
        params={"signature": sha1_signature("guessed-token", ts, nonce), "timestamp": ts, "nonce": nonce},
    )

    # then it is refused and the delivery is untouched; the genuine push delivers it
    assert forged.status_code == 403
    assert state_of(dep.rt, uid) == "accepted" and the_delivery(dep.rt, uid)["last_error"] is None
    wait_for(lambda: state_of(dep.rt, uid) == "delivered", what="delivered by the genuine push")
    assert outcomes(dep.rt, d["id"]) == ["accepted"]


def test_reconcile_never_calls_an_unreadable_account_consistent(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy()
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "delivered")
    [report] = dep.rt.deliveries.reconcile(["wechat"])
    assert report.checked and report.problems == [] and report.held_live == 1

    # WeChat answers the listing with an error (system busy): the account was not read
    wechat.fault(errcode=-1, count=-1, paths=["freepublish/batchget"])
    [report] = dep.rt.deliveries.reconcile(["wechat"])
    assert not report.checked and report.not_checked == "unreadable"
    assert report.findings == [] and "微信系统繁忙" in str(report.error)


def test_replay_after_the_platform_failed_it_starts_a_fresh_publication(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    # given a publication WeChat fails after accepting it (常规失败, publish_status 3)
    dep = deploy()
    wechat.fault(publish_status=3)
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "failed", what="failed by the platform")
    failed = the_delivery(dep.rt, uid)
    assert calls(wechat)["draft/add"] == 1 and calls(wechat)["freepublish/submit"] == 1

    # when ops replay it
    dep.rt.deliveries.replay(team.ops, failed["id"])

    # then a new draft and a new publication are made (not the old failure re-read), and it is live
    wait_for(lambda: state_of(dep.rt, uid) == "delivered", what="delivered after the replay")
    d = the_delivery(dep.rt, uid)
    assert outcomes(dep.rt, d["id"]) == ["accepted", "accepted"]
    assert d["external_id"] != failed["external_id"]
    assert calls(wechat)["draft/add"] == 2 and calls(wechat)["freepublish/submit"] == 2
    publishes = wechat.state()["publishes"]
    assert publishes[failed["external_id"]]["publish_status"] == 3
    assert publishes[d["external_id"]]["publish_status"] == 0


def test_a_redis_flush_loses_no_progress(
    deploy: Deploy, team: Team, wechat: RunningServer, redis_prefix: str
) -> None:
    import redis as redis_lib

    # given the token cached in Redis, and a submit that fails after the draft was made
    dep = deploy(redis=REDIS_URL, retry={**RETRY, "base_seconds": 1.5, "cap_seconds": 1.5})
    wechat.fault(errcode=-1, count=1, paths=["freepublish/submit"])
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "retry_wait", what="waiting to retry the submit")
    client: redis_lib.Redis[bytes] = redis_lib.Redis.from_url(REDIS_URL)
    assert list(client.scan_iter(f"{redis_prefix}:*"))  # the token is there
    for key in client.scan_iter(f"{redis_prefix}:*"):  # this deployment's part of a FLUSHDB
        client.delete(key)
    assert state_of(dep.rt, uid) == "retry_wait"  # flushed before the retry began

    # then the retry resumes from the database: no second cover upload, no second draft
    wait_for(lambda: state_of(dep.rt, uid) == "delivered", what="delivered after the flush")
    assert calls(wechat)["material/add_material"] == 1 and calls(wechat)["draft/add"] == 1
    assert calls(wechat)["freepublish/submit"] == 2
    assert wechat.state()["counters"]["token_fetches"] == 1  # the database had the token
    client.close()


def test_a_dead_redis_for_the_token_cache_does_not_stop_delivery(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy(redis="redis://127.0.0.1:1/0")  # nothing listens there
    uid = approve(dep.rt, team)
    wait_for(lambda: state_of(dep.rt, uid) == "delivered")
    assert wechat.state()["counters"]["token_fetches"] == 1


def test_a_problem_only_wechat_has_holds_only_wechat_when_the_approver_excludes_it(
    deploy: Deploy, team: Team, wechat: RunningServer, image_host: ImageHost
) -> None:

    from publisher.domain.errors import ValidationError
    from tests.samples import policy

    # given RSS and WeChat, and a policy whose cover WeChat may not take (a host not allowed)
    dep = deploy(rss=True, hosts=["images.example.gov.cn"])
    rt = dep.rt
    uid = rt.service.create_item(team.editor, policy(cover_url=image_host.url("/img/cover.jpg"))).uid
    rt.service.submit(team.editor, uid)
    rt.service.review(team.reviewer, uid)

    # when approved as it is: refused, naming WeChat's problem, and nothing is written
    with pytest.raises(ValidationError) as refused:
        rt.service.approve(team.approver, uid)
    assert [e.field for e in refused.value.errors] == ["channels.wechat.cover_url"]
    assert rt.service.deliveries(uid) == []

    # when approved over HTTP with WeChat left out: RSS goes out, WeChat waits as excluded
    approver = {"Authorization": f"Bearer {team.tokens['approver']}"}
    ops = {"Authorization": f"Bearer {team.tokens['ops']}"}
    url = f"{dep.url}/api/items/{uid}/approve"
    r = httpx.post(url, json={"exclude": ["wechat"], "exclude_reason": "长" * 501}, headers=approver)
    assert r.status_code == 422 and "exclude_reason" in r.text  # named, nothing written
    assert rt.service.deliveries(uid) == []
    r = httpx.post(url, json={"exclude": ["wechat"], "exclude_reason": "封面待换"}, headers=approver)
    assert r.status_code == 200, r.text
    wait_for(lambda: state_of_channel(rt, uid, "rss") == "delivered")
    held = next(d for d in deliveries(rt, uid) if d["channel"] == "wechat")
    assert held["state"] == "excluded" and "封面图片来源不在允许列表" in held["last_error"]
    assert "封面待换" in held["last_error"]
    # several sweeps later (each would send what is due) it is still not sent
    executor = rt.executor
    assert executor is not None
    seen = getattr(executor, "last_sweep", 0.0)
    wait_for(lambda: getattr(executor, "last_sweep", 0.0) > seen + 0.2, what="a few more sweeps")
    assert state_of_channel(rt, uid, "wechat") == "excluded"
    assert calls(wechat).get("draft/add", 0) == 0 and calls(wechat).get("material/add_material", 0) == 0
    assert ("delivery.exclude", "wechat") in audit_of(rt, uid)
    # visible where ops look for held work
    listed = httpx.get(f"{dep.url}/api/deliveries", params={"state": "excluded"}, headers=ops).json()
    assert [d["id"] for d in listed["deliveries"]] == [held["id"]]
    # a channel that is not routed cannot be excluded
    other = rt.service.create_item(team.editor, policy(title="关于另一事项的通知")).uid
    rt.service.submit(team.editor, other)
    rt.service.review(team.reviewer, other)
    r = httpx.post(f"{dep.url}/api/items/{other}/approve", json={"exclude": ["cms"]}, headers=approver)
    assert r.status_code == 422 and "exclude" in r.text

    # a release while the problem remains is refused with the problem (422), still excluded
    r = httpx.post(f"{dep.url}/api/deliveries/{held['id']}/release", headers=approver)
    assert r.status_code == 422 and "cover_url" in r.text
    assert state_of_channel(rt, uid, "wechat") == "excluded"
    # ops may not release it: publishing to a channel is the approver's decision
    r = httpx.post(f"{dep.url}/api/deliveries/{held['id']}/release", headers=ops)
    assert r.status_code == 403

    # once WeChat may take that host (a settings change, a restart), one action releases it
    assert rt.executor is not None
    rt.executor.stop()  # the old process is gone: only the restarted one may pick it up
    fixed = deploy(rss=True, callbacks=False, poll=POLL_FAST)
    assert fixed.rt.deliveries.release_excluded(team.approver, held["id"]) == [held["id"]]
    wait_for(lambda: state_of_channel(fixed.rt, uid, "wechat") == "delivered", what="released, delivered")
    assert calls(wechat)["freepublish/submit"] == 1
    assert ("delivery.release", "wechat") in audit_of(fixed.rt, uid)


def state_of_channel(rt: Runtime, uid: str, channel: str) -> str:
    return str(next(d for d in deliveries(rt, uid) if d["channel"] == channel)["state"])


def audit_of(rt: Runtime, uid: str) -> list[tuple[str, Any]]:
    from sqlalchemy import select

    from publisher.store.models import AuditEvent

    with rt.db.reader() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.item_uid == uid)).scalars().all()
        return [(e.action, (e.data or {}).get("channel")) for e in events]


def test_an_abolishing_notice_leaves_only_a_short_wechat_notice_in_place_of_the_original(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    from publisher.domain.item import Validity

    # given a policy live on WeChat, with the account set to leave a notice on abolition
    dep = deploy(abolition_mode="notice")
    old = approve(dep.rt, team, title="关于旧预算办法的通知")
    wait_for(lambda: state_of(dep.rt, old) == "delivered")
    first_job = the_delivery(dep.rt, old)["external_id"]

    # when a notice that abolishes it is approved (one approval: its own article, and the
    # change of validity of the old one)
    new = approve(dep.rt, team, title="关于废止旧预算办法的通知", abolishes=[old])
    assert dep.rt.service.item_detail(old)["validity"] == Validity.ABOLISHED
    wait_for(
        lambda: (
            [d["state"] for d in deliveries(dep.rt, old)] == ["delivered", "delivered"]
            and state_of(dep.rt, new) == "delivered"
        ),
        what="the abolition and the new notice delivered",
    )

    # then the original is deleted, and in its place a short notice points to the new notice
    state = wechat.state()
    assert state["publishes"][first_job]["publish_status"] == 5
    notice_job = deliveries(dep.rt, old)[1]["external_id"]
    [article] = state["publishes"][notice_job]["articles"]
    assert article["title"] == "【已废止】关于旧预算办法的通知"
    text = BeautifulSoup(article["content"], "html.parser").get_text()
    assert f"/items/{new}" in text and "原文已删除" in text and "正文" not in text
    assert article["content_source_url"].endswith(f"/items/{old}")
    # reconcile agrees: one live copy per item, the old one saying 已废止 as the ledger does
    [report] = dep.rt.deliveries.reconcile(["wechat"])
    assert report.checked and report.problems == [] and report.held_live == 2
    # and inspection reads the notice as the abolished item's right copy
    inspected = dep.rt.deliveries.inspect(["wechat"])
    assert inspected.inspected == 2 and inspected.unchecked == 0 and inspected.drifted == 0


def test_a_dead_link_of_an_abolished_policy_is_one_drift_on_the_feed_copy_never_on_the_wechat_notice(
    deploy: Deploy, team: Team
) -> None:
    # given a policy whose body links to an address the egress guard refuses (a dead link),
    # live in the feeds and on WeChat, where abolition leaves only a notice
    dep = deploy(abolition_mode="notice", rss=True)
    dead = "http://169.254.169.254/latest"
    old = approve(
        dep.rt, team, title="关于旧预算办法的通知", body_html=f'<p>见<a href="{dead}">细则</a>。</p>'
    )
    new = approve(dep.rt, team, title="关于废止旧预算办法的通知", abolishes=[old])
    wait_for(
        lambda: all(
            d["state"] in ("delivered", "superseded") for u in (old, new) for d in deliveries(dep.rt, u)
        ),
        what="both items and the abolition delivered on both channels",
    )

    # when every copy is inspected
    report = dep.rt.deliveries.inspect(["wechat", "rss"])

    # then the dead link is reported once, on the feed copy that carries the body; the
    # WeChat notice, which does not, has no drift at all
    assert report.unchecked == 0
    found = [(d["item"], d["channel"], d["kind"], d["subject"]) for d in dep.rt.deliveries.drifts()]
    assert found == [(old, "rss", "link_dead", dead)]


def test_with_wechat_alone_the_full_article_carries_the_dead_link_and_the_notice_does_not(
    deploy: Deploy, team: Team
) -> None:
    # given a policy with a dead link live only on WeChat, as the full article
    dep = deploy(abolition_mode="notice")
    dead = "http://169.254.169.254/latest"
    old = approve(
        dep.rt, team, title="关于旧预算办法的通知", body_html=f'<p>见<a href="{dead}">细则</a>。</p>'
    )
    wait_for(lambda: state_of(dep.rt, old) == "delivered")
    dep.rt.deliveries.inspect(["wechat"])
    first = the_delivery(dep.rt, old)["id"]
    assert [(d["delivery"], d["kind"]) for d in dep.rt.deliveries.drifts()] == [(first, "link_dead")]

    # when it is abolished and the article replaced by the short notice
    approve(dep.rt, team, title="关于废止旧预算办法的通知", abolishes=[old])
    wait_for(lambda: [d["state"] for d in deliveries(dep.rt, old)] == ["delivered", "delivered"])
    report = dep.rt.deliveries.inspect(["wechat"])

    # then the notice, which shows no body, has no link drift of its own
    assert report.unchecked == 0
    notice = deliveries(dep.rt, old)[1]["id"]
    assert [d for d in dep.rt.deliveries.drifts() if d["delivery"] == notice] == []


def test_an_image_wechat_re_hosted_is_not_a_dead_link_of_the_article_when_its_source_dies(
    deploy: Deploy, team: Team, image_host: ImageHost
) -> None:
    # given a policy live only on WeChat whose body links to a dead address and shows an image
    # that WeChat took (uploaded to its own media host)
    dep = deploy()
    link, image = "http://169.254.169.254/latest", image_host.url("/img/chart.png")
    uid = approve(
        dep.rt, team, body_html=f'<p>见<a href="{link}">细则</a>。</p><p><img src="{image}" alt="图表"></p>'
    )
    wait_for(lambda: state_of(dep.rt, uid) == "delivered")

    # when the image's own address dies, and the copy is inspected
    image_host.routes["/img/chart.png"] = (404, {"Content-Type": "text/plain"}, b"gone")
    dep.rt.deliveries.inspect(["wechat"])

    # then the dead link shown in the article is a drift; the image address, not in it, is not
    assert [(d["kind"], d["subject"]) for d in dep.rt.deliveries.drifts()] == [("link_dead", link)]
