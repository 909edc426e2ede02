"""The local WeChat stand-in speaks WeChat's protocol: paths, shapes, errcodes and quirks."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from channels.standins.wechat_server import RunningServer
from tests.support import wait_for

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import picture


def token(server: RunningServer, **params: str) -> dict[str, Any]:
    query = {
        "grant_type": "client_credential",
        "appid": server.config.appid,
        "secret": server.config.secret,
        **params,
    }
    result: dict[str, Any] = httpx.get(f"{server.api_base_url}token", params=query).json()
    return result


def post_raw(server: RunningServer, path: str, tok: str, body: bytes) -> dict[str, Any]:
    # No Content-Type, like wechatpy sends it.
    res = httpx.post(f"{server.api_base_url}{path}", params={"access_token": tok}, content=body)
    assert "content-type" not in res.request.headers
    result: dict[str, Any] = res.json()
    return result


def upload(server: RunningServer, path: str, tok: str, data: bytes, **params: str) -> dict[str, Any]:
    res = httpx.post(
        f"{server.api_base_url}{path}",
        params={"access_token": tok, **params},
        files={"media": ("f.bin", data, "application/octet-stream")},
    )
    result: dict[str, Any] = res.json()
    return result


def thumb(server: RunningServer, tok: str) -> str:
    return str(upload(server, "material/add_material", tok, picture("JPEG"), type="thumb")["media_id"])


def article(thumb_id: str, **overrides: Any) -> dict[str, Any]:
    return {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": thumb_id, **overrides}


def publish(server: RunningServer, tok: str, articles: list[dict[str, Any]]) -> tuple[str, str]:
    media_id = post_raw(server, "draft/add", tok, json.dumps({"articles": articles}).encode())["media_id"]
    publish_id = post_raw(server, "freepublish/submit", tok, json.dumps({"media_id": media_id}).encode())[
        "publish_id"
    ]

    def finished() -> dict[str, Any] | None:
        got = post_raw(server, "freepublish/get", tok, json.dumps({"publish_id": publish_id}).encode())
        return got if got["publish_status"] != 1 else None

    got = wait_for(finished, 5, "the publish job finished")
    return publish_id, got["article_id"]


def test_token_credentials_and_errcodes(wechat: RunningServer) -> None:
    assert token(wechat, appid="wxwrong")["errcode"] == 40013
    assert token(wechat, secret="wrong")["errcode"] == 40125
    assert token(wechat, secret="")["errcode"] == 41004
    assert token(wechat, grant_type="password")["errcode"] == 40002
    good = token(wechat)
    assert good["expires_in"] == 7200 and len(good["access_token"]) > 20
    assert post_raw(wechat, "draft/get", "", b"{}")["errcode"] == 41001
    assert post_raw(wechat, "draft/add", "not-a-token", b"{}")["errcode"] == 40001
    assert wechat.state()["counters"]["token_fetches"] == 1  # failed fetches are not tokens


def test_old_token_survives_refresh_for_the_grace_period_then_40001(wechat: RunningServer) -> None:
    wechat.admin("POST", "config", {"old_token_grace": 0.5})
    old = token(wechat)["access_token"]
    new = token(wechat)["access_token"]
    assert old != new
    body = b'{"media_id": "nope"}'
    assert post_raw(wechat, "draft/get", old, body)["errcode"] == 40007  # still accepted: reached the handler
    # after the grace period the old token is refused (waited for, not slept on)
    wait_for(lambda: post_raw(wechat, "draft/get", old, body)["errcode"] == 40001, 5, "the old token refused")
    assert post_raw(wechat, "draft/get", new, body)["errcode"] == 40007


def test_expired_token_is_42001(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    wechat.admin("POST", "expire_tokens")
    assert post_raw(wechat, "draft/get", tok, b'{"media_id": "x"}')["errcode"] == 42001


def test_stable_token_returns_the_current_token_unless_forced(wechat: RunningServer) -> None:
    creds = {"grant_type": "client_credential", "appid": wechat.config.appid, "secret": wechat.config.secret}
    first = httpx.post(f"{wechat.api_base_url}stable_token", content=str(creds).replace("'", '"')).json()
    again = httpx.post(f"{wechat.api_base_url}stable_token", json=creds).json()
    forced = httpx.post(f"{wechat.api_base_url}stable_token", json={**creds, "force_refresh": True}).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]


def test_media_limits(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    assert upload(wechat, "material/add_material", tok, picture("PNG"), type="thumb")["errcode"] == 40005
    big_jpeg = picture("JPEG", (900, 900), noise=True)
    assert len(big_jpeg) > 64 * 1024
    assert upload(wechat, "material/add_material", tok, big_jpeg, type="thumb")["errcode"] == 40009
    assert upload(wechat, "material/add_material", tok, big_jpeg, type="image")["media_id"]
    assert upload(wechat, "media/uploadimg", tok, picture("GIF"))["errcode"] == 40005
    huge = picture("PNG", (1800, 1800), noise=True)
    assert len(huge) >= 1024 * 1024
    assert upload(wechat, "media/uploadimg", tok, huge)["errcode"] == 40009
    hosted = upload(wechat, "media/uploadimg", tok, picture("PNG"))["url"]
    assert hosted.startswith(wechat.base_url)
    assert httpx.get(hosted).headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"title": "标" * 33}, 45003),
        ({"digest": "摘" * 129}, 45004),
        ({"author": "作" * 17}, 45110),
        ({"content": "<p>" + "字" * 20_000 + "</p>"}, 45002),
        ({"content_source_url": "http://x/" + "a" * 1100}, 45005),
        ({"thumb_media_id": "unknown"}, 40007),
    ],
)
def test_draft_limits(wechat: RunningServer, overrides: dict[str, Any], errcode: int) -> None:
    tok = token(wechat)["access_token"]
    body = json.dumps({"articles": [article(thumb(wechat, tok), **overrides)]}).encode()
    assert post_raw(wechat, "draft/add", tok, body)["errcode"] == errcode


def test_draft_content_is_filtered_like_wechat(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    hosted = upload(wechat, "media/uploadimg", tok, picture("PNG"))["url"]
    content = (
        f'<p onclick="x()">a</p><script>alert(1)</script><img src="{hosted}"/>'
        '<img src="http://example.com/outside.png"/>'
    )
    added = post_raw(
        wechat,
        "draft/add",
        tok,
        json.dumps({"articles": [article(thumb(wechat, tok), content=content)]}).encode(),
    )
    stored = post_raw(wechat, "draft/get", tok, json.dumps(added).encode())["news_item"][0]["content"]
    assert "script" not in stored and "onclick" not in stored and "example.com" not in stored
    assert hosted in stored


def test_freepublish_delete_index_semantics(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    t = thumb(wechat, tok)
    _pid1, a1 = publish(wechat, tok, [article(t, title="一"), article(t, title="二"), article(t, title="三")])
    _pid2, a2 = publish(wechat, tok, [article(t, title="四"), article(t, title="五")])
    assert (
        post_raw(wechat, "freepublish/delete", tok, json.dumps({"article_id": a1, "index": 2}).encode())[
            "errcode"
        ]
        == 0
    )
    items = wechat.state()["articles"][a1]["items"]
    assert [i["is_deleted"] for i in items] == [False, True, False]
    # The trap: no index (or 0) deletes every article of that publish.
    assert (
        post_raw(wechat, "freepublish/delete", tok, json.dumps({"article_id": a2}).encode())["errcode"] == 0
    )
    state = wechat.state()
    assert [i["is_deleted"] for i in state["articles"][a2]["items"]] == [True, True]
    assert state["publishes"][_pid2]["publish_status"] == 5
    assert (
        post_raw(wechat, "freepublish/delete", tok, json.dumps({"article_id": "nope", "index": 1}).encode())[
            "errcode"
        ]
        == 53600
    )


def test_batchget_lists_in_the_configured_order_and_fillers_are_older(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    t = thumb(wechat, tok)
    _pid, first = publish(wechat, tok, [article(t, title="一")])
    time.sleep(1.1)  # create_time is in whole seconds
    _pid, second = publish(wechat, tok, [article(t, title="二")])
    fillers = wechat.admin("POST", "publications", {"count": 25})["publish_ids"]
    assert len(fillers) == 25

    def listing(order: str, seed: int = 0) -> list[str]:
        wechat.admin("POST", "config", {"publication_order": order, "publication_seed": seed})
        ids: list[str] = []
        while True:
            body = {"offset": len(ids), "count": 20, "no_content": 1}
            page = post_raw(wechat, "freepublish/batchget", tok, json.dumps(body).encode())
            assert page["total_count"] == 27 and page["item_count"] == len(page["item"])
            if not page["item"]:
                return ids
            assert all("content" not in a for i in page["item"] for a in i["content"]["news_item"])
            ids += [i["article_id"] for i in page["item"]]

    newest = listing("newest")
    assert newest[:2] == [second, first] and len(set(newest)) == 27
    oldest = listing("oldest")
    assert oldest[-2:] == [first, second] and sorted(oldest) == sorted(newest)
    shuffled = listing("shuffled")
    # every publication once across the pages, in another order, the same again for that seed
    assert sorted(shuffled) == sorted(newest) and shuffled not in (newest, oldest)
    assert listing("shuffled") == shuffled and listing("shuffled", seed=1) != shuffled


def test_faults_fire_count_times_then_clear(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    wechat.fault(errcode=-1, count=2, paths=["draft/count"])
    wechat.fault(http_status=500, count=1, paths=["draft/count"])
    codes = [httpx.get(f"{wechat.api_base_url}draft/count", params={"access_token": tok}) for _ in range(4)]
    assert [r.json().get("errcode") for r in codes[:2]] == [-1, -1]
    assert codes[2].status_code == 500
    assert codes[3].json() == {"total_count": 0}
    assert wechat.state()["counters"]["faults_fired"] == 3


def test_mass_send_quota_and_status(wechat: RunningServer) -> None:
    tok = token(wechat)["access_token"]
    # the send is held open until "still sending" has been observed, then released
    wechat.admin("POST", "config", {"mass_delay": 600.0})
    media_id = post_raw(
        wechat, "draft/add", tok, json.dumps({"articles": [article(thumb(wechat, tok))]}).encode()
    )["media_id"]
    body = json.dumps(
        {"filter": {"is_to_all": True}, "mpnews": {"media_id": media_id}, "msgtype": "mpnews"}
    ).encode()
    sent = post_raw(wechat, "message/mass/sendall", tok, body)
    assert sent["errcode"] == 0 and sent["msg_id"]
    assert post_raw(wechat, "message/mass/sendall", tok, body)["errcode"] == 45028
    get = json.dumps({"msg_id": sent["msg_id"]}).encode()
    assert post_raw(wechat, "message/mass/get", tok, get)["msg_status"] == "SENDING"
    wechat.admin("POST", "config", {"mass_delay": 0.0})
    wait_for(
        lambda: post_raw(wechat, "message/mass/get", tok, get)["msg_status"] == "SEND_SUCCESS",
        5,
        "the send done",
    )
