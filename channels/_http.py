"""The one HTTP boundary: every adapter builds its httpx client here, and every provider
answer and transport failure becomes a classified error here.

    client = make_client(base_url=..., transport=None)   # tests pass httpx.MockTransport
    response = request(client, "POST", "/x", json=...)   # transport failures -> TransientError
    raise_for_status(response, "what")                  # the default status mapping
    WORDPRESS = Classifier(overrides={...}, redirects=ChannelConfigError)   # an adapter's own
    WORDPRESS.raise_for(response, "what")

The default mapping (`Classifier()`): 2xx passes; 401/403 ChannelConfigError (our
credentials); 408/425 and 5xx TransientError, a 503 with Retry-After RateLimitedError; 429
RateLimitedError with Retry-After; 3xx (clients never follow redirects) and other 4xx
PermanentError. An adapter overrides single statuses where its provider means something
else (WordPress's 3xx: base_url is wrong; a webhook's 410: the subscriber switched us off;
a content source's 401/403: that URL's problem, never our credentials).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from channels.base import ChannelConfigError, ChannelError, PermanentError, RateLimitedError, TransientError

__all__ = [
    "CONTENT",
    "DEFAULT",
    "Classifier",
    "excerpt",
    "make_client",
    "parse_retry_after",
    "raise_for_status",
    "request",
    "transport_error",
]

USER_AGENT = "publisher/0.1 (+government information disclosure)"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
EXCERPT = 500
# Apache's and uvicorn's default keep-alive timeout is 5 s, httpx's pool expiry too: a pooled
# connection reused just as the server closes it fails with "connection reset" and costs the
# delivery a retry. Dropping idle connections a second earlier avoids the race.
KEEPALIVE_EXPIRY = 4.0

ErrorClass = type[ChannelError]


def make_client(
    *,
    base_url: str = "",
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    auth: httpx.Auth | tuple[str, str] | None = None,
    max_connections: int = 20,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for a provider's API. `transport` replaces the network (tests pass an
    `httpx.MockTransport`); it is the one way to do so."""
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        auth=auth,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        follow_redirects=False,
        transport=transport,
    )


def excerpt(response: httpx.Response) -> str:
    try:
        return response.text[:EXCERPT]
    except Exception:  # undecodable or unread body: keep the attempt row readable
        try:
            return repr(response.content[:EXCERPT])
        except Exception:
            return ""


def parse_retry_after(value: str | None, default: float = 30.0) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def transport_error(exc: httpx.HTTPError, what: str = "") -> TransientError:
    """A timeout or connection failure: the network's problem, so later."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{prefix}超时 / timeout: {type(exc).__name__}"[:300])
    return TransientError(f"{prefix}连接失败 / connection error: {type(exc).__name__}: {exc}"[:300])


def request(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    """Send; transport failures become TransientError. Status codes are the caller's
    classifier's (`raise_for_status`, or an adapter's `Classifier`)."""
    try:
        return client.request(method, url, **kwargs)  # type: ignore[arg-type,unused-ignore]
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


_HINTS: dict[ErrorClass, str] = {
    ChannelConfigError: "凭据被拒绝 / credentials rejected",
    RateLimitedError: "请求过多 / rate limited",
    TransientError: "服务暂不可用 / server error",
    PermanentError: "被拒绝 / rejected",
}


@dataclass(frozen=True)
class Classifier:
    """Status code -> error class, the default table with an adapter's overrides.

    `overrides`: single statuses whose meaning differs for this provider, checked first
    (None: a success, as the platform's 409 carrying the original receipt). `redirects`:
    the class of a 3xx. `hints`: the message per class; `notes`: per status, in place of
    the hint. `retry_after`: the wait when a 429 (or a 503 that asks for one) carries no
    usable Retry-After."""

    overrides: Mapping[int, ErrorClass | None] = field(default_factory=dict)
    redirects: ErrorClass = PermanentError
    hints: Mapping[ErrorClass, str] = field(default_factory=dict)
    notes: Mapping[int, str] = field(default_factory=dict)
    retry_after: float = 30.0

    def classify(self, status: int, headers: Mapping[str, str] | None = None) -> ErrorClass | None:
        """The error class for `status`, None for success."""
        if status in self.overrides:
            return self.overrides[status]
        if 200 <= status < 300:
            return None
        if status in (401, 403):
            return ChannelConfigError
        if status == 429:
            return RateLimitedError
        if status == 503 and headers is not None and headers.get("Retry-After"):
            return RateLimitedError  # the server says when: honour it rather than our backoff
        if status in (408, 425) or status >= 500:
            return TransientError
        if 300 <= status < 400:
            return self.redirects
        return PermanentError

    def make(
        self,
        cls: ErrorClass,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **info: Any,
    ) -> ChannelError:
        """An instance of `cls` carrying what the attempt row records; a RateLimitedError
        gets its wait from Retry-After."""
        if issubclass(cls, RateLimitedError):
            wait = parse_retry_after((headers or {}).get("Retry-After"), default=self.retry_after)
            return cls(message, retry_after=wait, http_status=status, **info)
        return cls(message, http_status=status, **info)

    def message(self, cls: ErrorClass, status: int, what: str) -> str:
        hint = self.notes.get(status) or self.hints.get(cls) or _HINTS[_base(cls)]
        return f"{what}: {hint} ({status})"

    def error(
        self,
        status: int,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        provider_code: str | None = None,
    ) -> ChannelError | None:
        """The classified error for an answer given by its parts (clients that are not
        httpx: wechatpy speaks `requests`); None for success."""
        cls = self.classify(status, headers)
        if cls is None:
            return None
        return self.make(
            cls,
            self.message(cls, status, what),
            status=status,
            headers=headers,
            provider_code=provider_code,
            response_excerpt=body[:EXCERPT],
        )

    def error_for(self, response: httpx.Response, what: str) -> ChannelError | None:
        return self.error(response.status_code, what, headers=response.headers, body=excerpt(response))

    def raise_for(self, response: httpx.Response, what: str = "request") -> None:
        err = self.error_for(response, what)
        if err is not None:
            raise err


def _base(cls: ErrorClass) -> ErrorClass:
    for base in (RateLimitedError, ChannelConfigError, TransientError, PermanentError):
        if issubclass(cls, base):
            return base
    return PermanentError


DEFAULT = Classifier()
# A URL that came from content (an in-body image, an attachment, a link): whatever it
# answers is that item's problem, never our credentials, so nothing it says pauses a channel;
# and a stranger's Retry-After does not get to schedule our delivery (ours backs off).
CONTENT = Classifier(
    overrides={401: PermanentError, 403: PermanentError, 429: TransientError, 503: TransientError},
    hints={
        PermanentError: "来源拒绝或不存在 / source refused or missing",
        TransientError: "来源暂不可用 / source unavailable",
        RateLimitedError: "来源暂不可用 / source unavailable",
    },
)


def raise_for_status(response: httpx.Response, what: str = "request") -> None:
    """The default mapping (see the module docstring)."""
    DEFAULT.raise_for(response, what)
