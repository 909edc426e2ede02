"""WordPress REST answers -> our error classes.

WordPress reports errors as `{"code", "message", "data": {"status"}}`
(https://developer.wordpress.org/rest-api/using-the-rest-api/global-parameters/#_envelope).
The status decides first for the classes every provider shares; the code refines 4xx answers,
where WordPress uses one status for very different causes (a 404 is a missing post, or a REST
API that is not there at all). Answers that mean success in context (410 rest_already_trashed
on a withdrawal, 404 on an update) are handled by the caller before it classifies.
"""

from __future__ import annotations

from typing import Any

import httpx

from channels._http import Classifier, excerpt
from channels.base import (
    ChannelConfigError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

__all__ = ["CODE_TABLE", "OVERRIDE_TABLE", "STATUS_TABLE", "WORDPRESS", "classify", "error_for", "wp_code"]

STATUS_TABLE: dict[int, type[ChannelError]] = {
    401: ChannelConfigError,  # wrong user or Application Password (rest_not_logged_in, incorrect_password)
    403: ChannelConfigError,  # the user may not do this (rest_cannot_create, rest_cannot_edit)
    408: TransientError,
    425: TransientError,
    429: RateLimitedError,
}

# Codes that decide whatever the status says: WordPress answers 500 when it refuses an
# upload's file type, which no retry will change.
OVERRIDE_TABLE: dict[str, type[ChannelError]] = {
    "rest_upload_sideload_error": PermanentError,
}

# Refinements of 4xx answers by WordPress error code.
CODE_TABLE: dict[str, type[ChannelError]] = {
    "rest_no_route": ChannelConfigError,  # no REST API at base_url (wrong URL, REST disabled)
    "rest_invalid_param": PermanentError,  # the post was rejected field by field
    "rest_missing_callback_param": PermanentError,
    "rest_post_invalid_id": PermanentError,
    "rest_already_trashed": PermanentError,
    "rest_upload_file_too_big": PermanentError,
    "rest_cookie_invalid_nonce": ChannelConfigError,
    "rest_forbidden_context": ChannelConfigError,
    "rest_forbidden_status": ChannelConfigError,
}


_WHAT_HINT: dict[type[ChannelError], str] = {
    ChannelConfigError: "请检查 WordPress 地址、用户名和应用密码 / check base_url, user and Application Password",
    RateLimitedError: "请求过多 / rate limited",
    TransientError: "WordPress 暂不可用 / WordPress unavailable",
    PermanentError: "WordPress 拒绝 / rejected by WordPress",
}

# channels/_http.py's table with WordPress's meaning of a redirect: base_url answers with
# one (http -> https, another host), which only fixing the setting cures.
WORDPRESS = Classifier(overrides=STATUS_TABLE, redirects=ChannelConfigError, hints=_WHAT_HINT)


def classify(status: int, code: str | None = None) -> type[ChannelError] | None:
    """The error class for one answer, None for success."""
    if 200 <= status < 300:
        return None
    if code in OVERRIDE_TABLE:
        return OVERRIDE_TABLE[code]
    cls = WORDPRESS.classify(status)
    if cls is PermanentError and 400 <= status < 500 and code in CODE_TABLE:
        return CODE_TABLE[code]
    return cls


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def wp_code(response: httpx.Response) -> str | None:
    data = _json(response)
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return str(data["code"])
    return None


def error_for(response: httpx.Response, what: str) -> ChannelError | None:
    """The classified error for a WordPress answer (None when it is a success)."""
    code = wp_code(response)
    cls = classify(response.status_code, code)
    if cls is None:
        return None
    data = _json(response)
    wp_message = str(data.get("message", ""))[:200] if isinstance(data, dict) else ""
    message = f"{what}: {_WHAT_HINT[cls]} ({response.status_code}{' ' + code if code else ''})"
    if wp_message:
        message += f": {wp_message}"
    return WORDPRESS.make(
        cls,
        message,
        status=response.status_code,
        headers=response.headers,
        provider_code=code,
        response_excerpt=excerpt(response),
    )
