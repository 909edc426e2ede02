"""Standard Webhooks signatures, shared by every channel that pushes signed HTTP requests
(the city platform, generic webhooks) and by the receivers that check them.

    webhook-id:        the message id; receivers de-duplicate on it
    webhook-timestamp: integer seconds since the epoch
    webhook-signature: "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>", space-separated
                       when several secrets are live (key rotation)

Secrets are written `whsec_<base64>` and decode to 24-64 bytes.
See https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

    VerificationError
    ├── SignatureError   missing/malformed headers or no signature matches
    └── TimestampError   timestamp outside the tolerance (stale, or from the future)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_TOLERANCE",
    "PREFIX",
    "SignatureError",
    "TimestampError",
    "VerificationError",
    "generate_secret",
    "parse_secret",
    "parse_secrets",
    "sign",
    "signed_headers",
    "verify",
    "verify_headers",
]

PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE = 300
_TIMESTAMP = re.compile(r"^\d{1,15}$")


class VerificationError(Exception):
    """The request's signature headers do not prove it came from a holder of the secret."""


class SignatureError(VerificationError):
    pass


class TimestampError(VerificationError):
    pass


def parse_secret(secret: str) -> bytes:
    """The key bytes of one `whsec_<base64>` secret; ValueError if it is not one."""
    text = secret.strip()
    if not text.startswith(PREFIX):
        raise ValueError(f"密钥须以 {PREFIX} 开头 / a secret starts with {PREFIX}")
    try:
        key = base64.b64decode(text[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("密钥不是有效的 base64 / the secret is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"密钥长度须为 {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} 字节 / a secret decodes to "
            f"{MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes (got {len(key)})"
        )
    return key


def parse_secrets(text: str) -> list[bytes]:
    """Several secrets separated by whitespace (a secret file or setting during rotation)."""
    keys = [parse_secret(part) for part in text.split()]
    if not keys:
        raise ValueError("未配置密钥 / no secret given")
    return keys


def generate_secret(nbytes: int = 32) -> str:
    return PREFIX + base64.b64encode(_random.token_bytes(nbytes)).decode("ascii")


def _key(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else parse_secret(secret)


def _check_id(msg_id: str) -> None:
    # The id travels in a header and is part of the signed content: printable ASCII only.
    if not msg_id or len(msg_id) > 200 or not all(0x21 <= ord(c) <= 0x7E for c in msg_id):
        raise ValueError("webhook-id must be 1-200 printable ASCII characters without spaces")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = msg_id.encode("ascii") + b"." + str(timestamp).encode("ascii") + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature. `secret` is a `whsec_` string or already-parsed key bytes."""
    _check_id(msg_id)
    return "v1," + base64.b64encode(_digest(_key(secret), msg_id, timestamp, body)).decode("ascii")


def signed_headers(
    secrets: Sequence[str | bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers for one request, signed with every live secret."""
    if not secrets:
        raise ValueError("未配置密钥 / no secret given")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }


def verify(
    secrets: Iterable[str | bytes],
    msg_id: str,
    timestamp: str,
    body: bytes,
    signature_header: str,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Raise unless one of the `v1` signatures in the header matches one of the secrets and
    the timestamp is within `tolerance` seconds of `now`. Unknown versions are ignored, as
    the spec asks, so a sender may add new schemes beside v1."""
    if not msg_id or not timestamp or not signature_header:
        raise SignatureError("缺少签名请求头 / missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        _check_id(msg_id)
    except ValueError as exc:
        raise SignatureError(f"webhook-id 无效 / {exc}") from None
    if not _TIMESTAMP.match(timestamp):
        raise SignatureError("webhook-timestamp 须为整数秒 / webhook-timestamp must be integer seconds")
    ts = int(timestamp)
    if abs(now - ts) > tolerance:
        raise TimestampError(
            f"时间戳超出允许范围（±{tolerance} 秒）/ timestamp outside the {tolerance} s tolerance"
        )
    offered: list[bytes] = []
    for part in signature_header.split():
        version, sep, value = part.partition(",")
        if not sep or version != "v1":
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not offered:
        raise SignatureError("没有可识别的 v1 签名 / no v1 signature in webhook-signature")
    for secret in secrets:
        expected = _digest(_key(secret), msg_id, ts, body)
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return
    raise SignatureError("签名不匹配 / no signature matches")


def verify_headers(
    secrets: Iterable[str | bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """`verify` reading the three headers from a (case-insensitive) mapping; returns the id."""
    msg_id = headers.get("webhook-id", "")
    verify(
        secrets,
        msg_id,
        headers.get("webhook-timestamp", ""),
        body,
        headers.get("webhook-signature", ""),
        now=now,
        tolerance=tolerance,
    )
    return msg_id
