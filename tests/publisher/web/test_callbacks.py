"""/callbacks/{channel} with the real WechatChannel against the local WeChat stand-in: URL
verification, signed pushes (plain and safe mode) confirming an accepted delivery, forged or
malformed pushes refused without touching the ledger, channels that take no callbacks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from channels.standins.wechat_server import RunningServer, sha1_signature
from channels.wechat import WechatChannel
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, redis_prefix)
from tests.channels.wechat_support import AES_KEY, CALLBACK_TOKEN, REDIS_URL
from tests.conftest import Team
from tests.support import publish, wait_for

SECRET_ENV = "PUBLISHER_TEST_WECHAT_SECRET"
TOKEN_ENV = "PUBLISHER_TEST_WECHAT_TOKEN"
AES_ENV = "PUBLISHER_TEST_WECHAT_AES_KEY"

Setup = Callable[..., tuple[Runtime, TestClient]]


@pytest.fixture
def setup(
    make_runtime: Callable[..., Runtime],
    team: Team,
    wechat: RunningServer,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Setup]:
    """A runtime with the wechat channel (confirmation polling effectively off, so only a
    push can confirm) and rss (which takes no callbacks), and a client for its app."""
    made: list[tuple[Runtime, TestClient]] = []
    monkeypatch.setenv(SECRET_ENV, wechat.config.secret)
    monkeypatch.setenv(TOKEN_ENV, CALLBACK_TOKEN)

    def make(aes: bool = False) -> tuple[Runtime, TestClient]:
        section: dict[str, Any] = {
            "enabled": True,
            "api_base_url": wechat.api_base_url,
            "appid": wechat.config.appid,
            "secret_env": SECRET_ENV,
            "callback_token_env": TOKEN_ENV,
            "redis_url": REDIS_URL,
            "key_prefix": redis_prefix,
            "confirm_interval_seconds": 3600,
        }
        if aes:
            monkeypatch.setenv(AES_ENV, AES_KEY)
            section["callback_aes_key_env"] = AES_ENV
            wechat.admin("POST", "config", {"aes_key": AES_KEY})
        rt = make_runtime({"wechat": section, "rss": {"enabled": True}}, threads=1)
        client = TestClient(create_app(rt))
        made.append((rt, client))
        return rt, client

    yield make
    for _rt, client in made:
        client.close()


def wechat_delivery(rt: Runtime, uid: str) -> dict[str, Any]:
    return next(d for d in rt.service.deliveries(uid) if d["channel"] == "wechat")


def accepted_and_finished(
    rt: Runtime, team: Team, wechat: RunningServer
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An approved policy whose WeChat delivery is accepted and whose publish job has finished
    on the stand-in (which pushes nowhere: no callback URL is configured)."""
    uid = publish(rt.service, team)
    wait_for(lambda: wechat_delivery(rt, uid)["state"] == "accepted", what="wechat delivery accepted")
    d = wechat_delivery(rt, uid)
    wait_for(
        lambda: wechat.state()["publishes"][d["external_id"]]["publish_status"] == 0, what="job finished"
    )
    return uid, d, wechat.state()["publishes"][d["external_id"]]


def signed_query(**extra: str) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "84021337"
    return {"signature": sha1_signature(CALLBACK_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


def test_url_verification_echoes_echostr_and_refuses_a_bad_signature(setup: Setup) -> None:
    _rt, client = setup()
    good = client.get("/callbacks/wechat", params=signed_query(echostr="4471930016"))
    assert good.status_code == 200 and good.text == "4471930016"
    forged = client.get("/callbacks/wechat", params={**signed_query(echostr="x"), "signature": "0" * 40})
    assert forged.status_code == 403 and forged.text != "x"
    stale = signed_query(echostr="x")
    stale["timestamp"] = str(int(time.time()) - 3600)
    stale["signature"] = sha1_signature(CALLBACK_TOKEN, stale["timestamp"], stale["nonce"])
    assert client.get("/callbacks/wechat", params=stale).status_code == 403


@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_signed_push_confirms_the_delivery_and_forged_pushes_change_nothing(
    setup: Setup, team: Team, wechat: RunningServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given an accepted delivery whose job finished at WeChat
    rt, client = setup(aes=mode == "aes")
    uid, d, job = accepted_and_finished(rt, team, wechat)
    query, body = wechat.standin.signed_request(wechat.standin.publish_event_xml(job))

    # when forged pushes arrive: a wrong signature, a body swapped under a valid signature
    forged = client.post("/callbacks/wechat", params={**query, "signature": "f" * 40}, content=body.encode())
    if mode == "aes":
        other, _ = wechat.standin.signed_request(
            wechat.standin.publish_event_xml({**job, "publish_status": 4})
        )
        swapped = client.post(
            "/callbacks/wechat",
            params={**query, "msg_signature": other["msg_signature"]},
            content=body.encode(),
        )
    else:
        swapped = client.post(
            "/callbacks/wechat",
            params=signed_query(),
            content=b"<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event></xml>",
        )

    # then they are refused and logged, and the ledger is untouched
    assert forged.status_code == 403
    assert swapped.status_code == (403 if mode == "aes" else 400)
    assert "wechat callback refused" in caplog.text
    after = wechat_delivery(rt, uid)
    assert after["state"] == "accepted" and after["attempts"] == d["attempts"] == 1

    # when the genuine push arrives
    res = client.post(
        "/callbacks/wechat", params=query, content=body.encode(), headers={"Content-Type": "text/xml"}
    )

    # then WeChat gets "success" and the delivery is delivered at the article's URL
    assert res.status_code == 200 and res.text == "success"
    done = wechat_delivery(rt, uid)
    assert done["state"] == "delivered" and done["url"] == job["articles"][0]["url"]
    assert [a["outcome"] for a in rt.service.attempts(d["id"])] == ["accepted"]
    assert wechat.state()["counters"]["api_calls"].get("freepublish/get", 0) == 0  # no polling involved

    # a repeated push (WeChat retries unanswered pushes) is answered and changes nothing
    again = client.post("/callbacks/wechat", params=query, content=body.encode())
    assert again.status_code == 200 and wechat_delivery(rt, uid) == done


def test_review_failure_push_fails_the_delivery_in_chinese(
    setup: Setup, team: Team, wechat: RunningServer
) -> None:
    rt, client = setup()
    wechat.fault(publish_status=4)
    uid = publish(rt.service, team)
    wait_for(lambda: wechat_delivery(rt, uid)["state"] == "accepted")
    d = wechat_delivery(rt, uid)
    wait_for(lambda: wechat.state()["publishes"][d["external_id"]]["publish_status"] == 4)
    job = wechat.state()["publishes"][d["external_id"]]
    query, body = wechat.standin.signed_request(wechat.standin.publish_event_xml(job))
    assert client.post("/callbacks/wechat", params=query, content=body.encode()).text == "success"
    failed = wechat_delivery(rt, uid)
    assert failed["state"] == "failed"
    assert failed["last_error"] == "平台审核未通过 / platform review failed（第 1 篇 / article 1）"


def test_channels_that_take_no_callbacks_answer_404(setup: Setup) -> None:
    _rt, client = setup()
    for channel in ("cms", "rss", "nosuchchannel"):  # not enabled; enabled without callbacks; unknown
        res = client.post("/callbacks/" + channel, params=signed_query(), content=b"<xml/>")
        assert res.status_code == 404, channel
        assert res.json()["errors"][0]["field"] == "path"


def test_oversized_push_is_refused_before_the_adapter_sees_it(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    _rt, client = setup()
    res = client.post(
        "/callbacks/wechat", params=signed_query(), content=b"<xml>" + b"x" * 300_000 + b"</xml>"
    )
    assert res.status_code == 413
    assert "wechat callback refused" not in caplog.text


def test_broadcast_finished_push_is_recorded_for_the_digest(setup: Setup, wechat: RunningServer) -> None:
    rt, client = setup()
    xml = (
        "<xml><ToUserName><![CDATA[gh_localstandin0]]></ToUserName><FromUserName><![CDATA[mphelper]]>"
        f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000001234</MsgID>"
        "<Status><![CDATA[err(10001)]]></Status><TotalCount>1000</TotalCount><FilterCount>990</FilterCount>"
        "<SentCount>0</SentCount><ErrorCount>990</ErrorCount></xml>"
    )
    query, body = wechat.standin.signed_request(xml)
    res = client.post("/callbacks/wechat", params=query, content=body.encode())
    assert res.status_code == 200 and res.text == "success"
    channel = rt.channels.get("wechat")
    assert isinstance(channel, WechatChannel)
    pushed = channel.mass_result("1000001234")
    assert pushed is not None and pushed.delivered is False
    assert pushed.error == "群发失败 / broadcast failed: err(10001)" and pushed.data["error_count"] == 990
    assert channel.mass_result("1000009999") is None
