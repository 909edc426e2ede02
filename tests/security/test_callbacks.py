"""Provider callbacks attacked over real HTTP (a uvicorn serving the app, the ledger behind
it, the local WeChat stand-in's own signing code): a replayed push has no second effect, a
plain push is refused when an AES key is configured, and the push's query string (its
signature, timestamp, nonce, openid) never reaches the access log."""

from __future__ import annotations

import logging
import time

import httpx

from channels.standins.wechat_server import RunningServer, sha1_signature
from publisher.web import create_app
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, redis_prefix)
from tests.channels.wechat_support import CALLBACK_TOKEN
from tests.conftest import Team
from tests.integration.test_wechat_ledger import Deploy, Deployment, state_of, the_delivery
from tests.integration.test_wechat_ledger import deploy as deploy  # noqa: F401  (fixture)
from tests.publisher.web.live import serve
from tests.support import publish as approve
from tests.support import wait_for


def accepted(dep: Deployment, team: Team, title: str) -> tuple[str, str]:
    uid = approve(dep.rt, team, title=title)
    wait_for(lambda: state_of(dep.rt, uid) == "accepted", what=f"{title} accepted")
    return uid, str(the_delivery(dep.rt, uid)["external_id"])


def published_xml(wechat: RunningServer, publish_id: str) -> str:
    return wechat.standin.publish_event_xml(
        {
            "publish_id": publish_id,
            "publish_status": 0,
            "article_id": f"ART{publish_id}",
            "articles": [{"url": f"http://mp.local/s?id={publish_id}"}],
        }
    )


def push(dep: Deployment, params: dict[str, str], body: str) -> httpx.Response:
    return httpx.post(dep.callback_url, params=params, content=body.encode(), timeout=10)


def test_a_replayed_push_has_no_second_effect(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    # given two deliveries accepted by WeChat, the stand-in not pushing by itself
    dep = deploy(callbacks=False)
    first, first_id = accepted(dep, team, "关于第一批预算公开的通知")
    second, second_id = accepted(dep, team, "关于第二批预算公开的通知")

    # when the genuine push for the first arrives, it is delivered
    params, body = wechat.standin.signed_request(published_xml(wechat, first_id))
    assert push(dep, params, body).status_code == 200
    wait_for(lambda: state_of(dep.rt, first) == "delivered", what="first delivered")

    # then someone who captured it replays its signed query with another body (plain mode's
    # signature does not cover the body): answered, and without any effect
    replay = push(dep, params, published_xml(wechat, second_id))
    assert replay.status_code == 200 and replay.text == "success"  # WeChat-style: stop repeating
    assert push(dep, params, body).status_code == 200  # the same push again: nothing new either
    assert state_of(dep.rt, second) == "accepted"

    # and a fresh genuine push (new nonce) for the second still works
    params, body = wechat.standin.signed_request(published_xml(wechat, second_id))
    assert push(dep, params, body).status_code == 200
    wait_for(lambda: state_of(dep.rt, second) == "delivered", what="second delivered")


def test_plain_push_is_refused_when_an_aes_key_is_configured(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy(callbacks=False, aes=True)
    uid, publish_id = accepted(dep, team, "关于安全模式推送的通知")
    xml = published_xml(wechat, publish_id)

    # a correctly signed plain-mode push (what a downgrade would send)
    ts, nonce = str(int(time.time())), "31415926"
    plain = {"signature": sha1_signature(CALLBACK_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    for extra in ({}, {"encrypt_type": "raw"}):
        r = push(dep, {**plain, **extra}, xml)
        assert r.status_code == 403 and "拒绝明文推送" in r.text
    assert state_of(dep.rt, uid) == "accepted" and the_delivery(dep.rt, uid)["last_error"] is None

    # the safe-mode push WeChat sends is taken
    params, body = wechat.standin.signed_request(xml)
    assert params["encrypt_type"] == "aes" and "msg_signature" in params
    assert push(dep, params, body).status_code == 200
    wait_for(lambda: state_of(dep.rt, uid) == "delivered", what="delivered by the safe-mode push")


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_callback_query_strings_never_reach_the_access_log(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    dep = deploy(callbacks=False)
    _, publish_id = accepted(dep, team, "关于访问日志的通知")
    params, body = wechat.standin.signed_request(published_xml(wechat, publish_id))
    # a server with its access log on, as `publisher serve` runs it
    kept, logger = Kept(), logging.getLogger("uvicorn.access")
    with serve(create_app(dep.rt), log_level="info") as url:
        logger.addHandler(kept)  # after uvicorn configured its logging, which resets handlers
        ok = httpx.post(f"{url}/callbacks/wechat", params=params, content=body.encode(), timeout=10)
        forged = httpx.post(f"{url}/callbacks/wechat", params={**params, "signature": "0" * 40}, timeout=10)
        other = httpx.get(f"{url}/healthz", params={"probe": "1"}, timeout=10)
        logger.removeHandler(kept)
    access_log = kept.lines
    assert ok.status_code == 200 and forged.status_code == 403 and other.status_code == 200
    callbacks = [line for line in access_log if "/callbacks/wechat" in line]
    assert len(callbacks) == 2, access_log
    for line in callbacks:
        for secret in (params["signature"], params["nonce"], params["timestamp"], "openid", "0" * 40):
            assert secret not in line, line
    assert any("/healthz?probe=1" in line for line in access_log)  # other paths keep theirs
