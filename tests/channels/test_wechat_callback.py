"""Callback pushes: URL verification, plain and safe mode, forged pushes refused."""

from __future__ import annotations

import time

import pytest

from channels.standins.wechat_server import ServerConfig, WechatStandin, sha1_signature
from channels.wechat.callback import (
    CallbackError,
    MassEvent,
    OtherEvent,
    PublishEvent,
    parse_event,
    verify_url,
)

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx0000localstandin"

PUBLISHED = {
    "publish_id": "2247481001",
    "publish_status": 0,
    "article_id": "ART1",
    "msg_data_id": 7,
    "articles": [{"url": "http://mp.local/s?idx=1"}, {"url": "http://mp.local/s?idx=2"}],
}


def standin(aes: bool) -> WechatStandin:
    return WechatStandin(ServerConfig(appid=APPID, callback_token=TOKEN, aes_key=AES_KEY if aes else None))


def signed_publish_push(aes: bool, job: dict[str, object] | None = None) -> tuple[dict[str, str], str]:
    s = standin(aes)
    return s.signed_request(s.publish_event_xml(dict(job or PUBLISHED)))


def test_url_verification_returns_echostr_and_refuses_forgeries() -> None:
    ts, nonce = str(int(time.time())), "12345"
    good = {
        "signature": sha1_signature(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "hello",
    }
    assert verify_url(good, token=TOKEN) == "hello"
    with pytest.raises(CallbackError):
        verify_url({**good, "signature": "0" * 40}, token=TOKEN)
    with pytest.raises(CallbackError):
        verify_url({k: v for k, v in good.items() if k != "signature"}, token=TOKEN)
    with pytest.raises(CallbackError):
        verify_url(good, token="another-token")


@pytest.mark.parametrize("aes", [False, True])
def test_signed_publish_event_parses(aes: bool) -> None:
    query, body = signed_publish_push(aes)
    event = parse_event(query, body.encode(), token=TOKEN, aes_key=AES_KEY if aes else None, appid=APPID)
    assert isinstance(event, PublishEvent)
    assert (event.publish_id, event.status, event.article_id) == ("2247481001", 0, "ART1")
    assert event.article_urls == ("http://mp.local/s?idx=1", "http://mp.local/s?idx=2")
    confirmation = event.confirmation()
    assert (
        confirmation is not None
        and confirmation.delivered is True
        and confirmation.url == "http://mp.local/s?idx=1"
    )


@pytest.mark.parametrize("encrypt_type", [None, "raw", ""])
def test_plain_push_is_refused_when_an_aes_key_is_configured(encrypt_type: str | None) -> None:
    # correctly signed in plain mode, but the deployment expects safe mode: a downgrade
    query, body = signed_publish_push(False)
    if encrypt_type is not None:
        query = {**query, "encrypt_type": encrypt_type}
    with pytest.raises(CallbackError, match="拒绝明文推送"):
        parse_event(query, body, token=TOKEN, aes_key=AES_KEY, appid=APPID)
    assert isinstance(parse_event(query, body, token=TOKEN), PublishEvent)  # no key: plain is fine


def test_failed_publish_event_carries_fail_idx_and_chinese_reason() -> None:
    query, body = signed_publish_push(False, {**PUBLISHED, "publish_status": 4, "fail_idx": [1]})
    event = parse_event(query, body, token=TOKEN)
    assert isinstance(event, PublishEvent) and event.fail_idx == (1,)
    confirmation = event.confirmation()
    assert confirmation is not None and confirmation.delivered is False
    assert confirmation.error and "平台审核未通过" in confirmation.error and "第 1 篇" in confirmation.error


def test_forged_plain_push_is_refused() -> None:
    query, body = signed_publish_push(False)
    with pytest.raises(CallbackError, match="签名"):
        parse_event({**query, "signature": "f" * 40}, body, token=TOKEN)
    with pytest.raises(CallbackError):
        parse_event(query, body, token="attacker-guess")


def test_forged_or_tampered_safe_mode_push_is_refused() -> None:
    query, body = signed_publish_push(True)
    tampered = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
    with pytest.raises(CallbackError):
        parse_event(query, tampered, token=TOKEN, aes_key=AES_KEY, appid=APPID)
    with pytest.raises(CallbackError):
        parse_event({**query, "msg_signature": "0" * 40}, body, token=TOKEN, aes_key=AES_KEY, appid=APPID)
    with pytest.raises(CallbackError):  # encrypted for another account
        parse_event(query, body, token=TOKEN, aes_key=AES_KEY, appid="wxsomeoneelse")
    with pytest.raises(CallbackError):  # safe mode push but we hold no key
        parse_event(query, body, token=TOKEN)


def test_stale_replayed_push_is_refused() -> None:
    s = standin(False)
    ts, nonce = str(int(time.time()) - 3600), "1"
    query = {"signature": sha1_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    with pytest.raises(CallbackError, match="过期"):
        parse_event(query, s.publish_event_xml(dict(PUBLISHED)), token=TOKEN)


def test_dtd_is_refused_even_with_a_valid_signature() -> None:
    query, _ = signed_publish_push(False)
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>event</MsgType></xml>'
    with pytest.raises(CallbackError):
        parse_event(query, bomb, token=TOKEN)


def test_mass_event_and_other_messages() -> None:
    s = standin(False)
    xml = s._event_xml(
        "MASSSENDJOBFINISH",
        "<MsgID>1000001</MsgID><Status><![CDATA[send success]]></Status>"
        "<TotalCount>10</TotalCount><FilterCount>9</FilterCount><SentCount>9</SentCount>"
        "<ErrorCount>0</ErrorCount>",
    )
    query, body = s.signed_request(xml)
    event = parse_event(query, body, token=TOKEN)
    assert isinstance(event, MassEvent) and event.msg_id == "1000001" and event.sent_count == 9
    assert event.confirmation().delivered is True
    query, body = s.signed_request(s._event_xml("subscribe", ""))
    assert parse_event(query, body, token=TOKEN) == OtherEvent(msg_type="event", event="subscribe")


def test_both_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from channels.wechat import callback

    compared: list[bytes] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append(bytes(b))
        return original(a, b)

    monkeypatch.setattr(callback.hmac, "compare_digest", recording)
    query, body = signed_publish_push(True)
    assert isinstance(parse_event(query, body, token=TOKEN, aes_key=AES_KEY, appid=APPID), PublishEvent)
    assert compared == [query["signature"].encode(), query["msg_signature"].encode()]
