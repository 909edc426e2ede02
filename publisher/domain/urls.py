"""Links an editor types into an item's fields (attachments, cover image): checked at the
door, so a URL that no channel could fetch or link is a 422 naming the field, not an
exception in a channel's pre-flight later (`urlsplit` raises on "http://[::1").
"""

from __future__ import annotations

from urllib.parse import urlsplit

_UNSAFE = frozenset(" \t\r\n\f\v\\<>\"'`")


def web_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL with a host that parses; else ValueError
    with the bilingual reason (pydantic reports it against the field)."""
    if any(c in _UNSAFE or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("地址含空白或非法字符 / URL contains spaces or unsafe characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise ValueError(f"地址无法解析 / URL does not parse: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("地址须以 http:// 或 https:// 开头 / expected an http(s) URL")
    if not host:
        raise ValueError("地址缺少主机名 / URL has no host")
    if "@" in parts.netloc:
        raise ValueError("地址不能含用户名或密码 / URL must not carry credentials")
    try:
        # every label must survive IDNA both ways, as every fetcher will encode it
        for label in host.rstrip(".").split("."):
            if not label:
                raise ValueError("empty label")
            if label.startswith("xn--"):
                label.encode("ascii").decode("idna")
            elif not label.isascii():
                label.encode("idna")
    except (UnicodeError, ValueError):
        raise ValueError(f"地址主机名无效 / invalid host name: {host[:80]}") from None
    return value
