"""WeChat's pushes to our callback URL: URL verification and the two job-finished events.

Pure functions the web layer calls; a `CallbackError` means "answer 403 and log it".

Plain mode: `signature` = sha1 of the sorted (token, timestamp, nonce). It does not cover the
body, so a captured signature could be replayed with another body; `max_age` bounds that
window and the channel refuses a (timestamp, nonce) it has seen within it (the adapter's
durable store, channels/wechat/channel.py). Safe and compatible mode add `encrypt_type=aes`
and `msg_signature` to the URL: the body carries `<Encrypt>` (AES) and `msg_signature` =
sha1 of the sorted (token, timestamp, nonce, Encrypt) covers the ciphertext too; when an AES
key is configured a plain push (no `encrypt_type`, or `raw`) is refused. Both signatures are
compared in constant time here, before wechatpy's `WeChatCrypto` decrypts (its own check
then only ever sees a signature already proven). wechatpy does not model PUBLISHJOBFINISH
(its parser leaves it in `_data`), so the decrypted XML is read here directly.
https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
https://developers.weixin.qq.com/doc/offiaccount/Publish/Callback_on_finish.html
"""

from __future__ import annotations

import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from channels.base import Confirmation
from channels.wechat.status import MASS_STATUS, confirmation_for

__all__ = [
    "CallbackError",
    "MalformedCallbackError",
    "MassEvent",
    "OtherEvent",
    "PublishEvent",
    "parse_event",
    "sha1_signature",
    "verify_url",
]


class CallbackError(Exception):
    """A push we must refuse (bad or missing signature, stale timestamp, unreadable body).
    `status` is what to answer: 403 for anything that fails the signature or decryption."""

    status = 403


class MalformedCallbackError(CallbackError):
    """Correctly signed, but not a message we can read: 400, not a forgery."""

    status = 400


@dataclass(frozen=True)
class PublishEvent:
    publish_id: str
    status: int
    article_id: str | None
    article_urls: tuple[str, ...]
    fail_idx: tuple[int, ...]
    account: str
    created: int

    def confirmation(self) -> Confirmation | None:
        return confirmation_for(
            self.status,
            publish_id=self.publish_id,
            article_id=self.article_id,
            urls=self.article_urls,
            fail_idx=self.fail_idx,
        )


@dataclass(frozen=True)
class MassEvent:
    msg_id: str
    status: str  # "send success", "send fail" or "err(<code>)"
    total_count: int
    filter_count: int
    sent_count: int
    error_count: int
    account: str
    created: int

    def confirmation(self) -> Confirmation:
        data = {
            "msg_id": self.msg_id,
            "status": self.status,
            "sent_count": self.sent_count,
            "error_count": self.error_count,
        }
        if self.status == "send success":
            return Confirmation(delivered=True, data=data)
        return Confirmation(delivered=False, error=f"{MASS_STATUS['SEND_FAIL']}: {self.status}", data=data)


@dataclass(frozen=True)
class OtherEvent:
    """Any other push (a follower's message, a subscribe event): not ours to act on."""

    msg_type: str
    event: str | None


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _matches(expected: str, offered: str) -> bool:
    # constant time: how much of a guess matched must not show in the answer's timing
    return hmac.compare_digest(expected.encode("utf-8"), offered.strip().lower().encode("utf-8"))


def _signed(query: Mapping[str, str], token: str, max_age: float | None) -> tuple[str, str]:
    signature, timestamp, nonce = query.get("signature"), query.get("timestamp"), query.get("nonce")
    if not (signature and timestamp and nonce):
        raise CallbackError("缺少签名参数 / signature parameters missing")
    if not _matches(sha1_signature(token, timestamp, nonce), signature):
        raise CallbackError("签名错误 / bad signature")
    if max_age is not None:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError as exc:
            raise CallbackError("时间戳无效 / bad timestamp") from exc
        if age > max_age:
            raise CallbackError("时间戳过期 / stale timestamp")
    return timestamp, nonce


def verify_url(query: Mapping[str, str], *, token: str, max_age: float | None = None) -> str:
    """The GET WeChat sends when the callback URL is configured: answer with `echostr`."""
    _signed(query, token, max_age)
    echostr = query.get("echostr")
    if not echostr:
        raise MalformedCallbackError("缺少 echostr / echostr missing")
    return echostr


def _text(node: ET.Element | None, path: str, default: str = "") -> str:
    if node is None:
        return default
    value = node.findtext(path)
    return value.strip() if value is not None else default


def _int(node: ET.Element | None, path: str) -> int:
    try:
        return int(_text(node, path, "0"))
    except ValueError:
        return 0


def parse_event(
    query: Mapping[str, str],
    body: bytes | str,
    *,
    token: str,
    aes_key: str | None = None,
    appid: str = "",
    max_age: float | None = 600.0,
) -> PublishEvent | MassEvent | OtherEvent:
    """Check the push's signature (and decrypt it in safe mode), then read the event."""
    timestamp, nonce = _signed(query, token, max_age)
    try:
        raw = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise MalformedCallbackError("不是 UTF-8 / not UTF-8") from exc
    if "<!DOCTYPE" in raw.upper() or "<!ENTITY" in raw.upper():
        raise MalformedCallbackError("拒绝含 DTD 的 XML / XML with a DTD refused")
    encrypted = query.get("encrypt_type", "raw").lower() == "aes"
    if aes_key and not encrypted:
        # with a key configured WeChat sends every push encrypted: a plain one is not WeChat's,
        # or a downgrade that would leave the body unsigned
        raise CallbackError(
            "已配置消息加密，拒绝明文推送 / plain-mode push refused: an AES key is configured"
        )
    if encrypted:
        msg_signature = query.get("msg_signature")
        if not aes_key or not msg_signature:
            raise CallbackError(
                "安全模式推送缺少密钥或 msg_signature / safe-mode push without key or msg_signature"
            )
        try:
            envelope = _text(ET.fromstring(raw), "Encrypt")
        except ET.ParseError as exc:
            raise CallbackError("密文 XML 无法解析 / unreadable encrypted envelope") from exc
        if not envelope or not _matches(sha1_signature(token, timestamp, nonce, envelope), msg_signature):
            raise CallbackError("消息签名错误 / bad msg_signature")
        try:
            raw = WeChatCrypto(token, aes_key, appid).decrypt_message(raw, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise CallbackError("消息签名或 AppID 错误 / bad msg_signature or appid") from exc
        except Exception as exc:  # malformed ciphertext or envelope from whoever holds a valid signature
            raise CallbackError(f"无法解密 / cannot decrypt: {type(exc).__name__}") from exc
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise MalformedCallbackError("XML 无法解析 / unreadable XML") from exc
    msg_type, event = _text(root, "MsgType"), _text(root, "Event") or None
    account, created = _text(root, "ToUserName"), _int(root, "CreateTime")
    if msg_type == "event" and event == "PUBLISHJOBFINISH":
        info = root.find("PublishEventInfo")
        if info is None or not _text(info, "publish_id"):
            raise MalformedCallbackError("缺少 PublishEventInfo / PublishEventInfo missing")
        items = sorted(info.findall("article_detail/item"), key=lambda item: _int(item, "idx"))
        return PublishEvent(
            publish_id=_text(info, "publish_id"),
            status=_int(info, "publish_status"),
            article_id=_text(info, "article_id") or None,
            article_urls=tuple(_text(item, "article_url") for item in items),
            fail_idx=tuple(
                int(e.text) for e in info.findall("fail_idx") if e.text and e.text.strip().isdigit()
            ),
            account=account,
            created=created,
        )
    if msg_type == "event" and event == "MASSSENDJOBFINISH":
        return MassEvent(
            msg_id=_text(root, "MsgID") or _text(root, "MsgId"),
            status=_text(root, "Status"),
            total_count=_int(root, "TotalCount"),
            filter_count=_int(root, "FilterCount"),
            sent_count=_int(root, "SentCount"),
            error_count=_int(root, "ErrorCount"),
            account=account,
            created=created,
        )
    return OtherEvent(msg_type=msg_type, event=event)
