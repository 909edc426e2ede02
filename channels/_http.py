"""The one HTTP boundary: every adapter builds its httpx client here and maps transport
failures and status codes to the classified errors in one place."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

from channels.base import ChannelConfigError, PermanentError, RateLimitedError, TransientError

USER_AGENT = "publisher/0.1 (+government information disclosure)"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
EXCERPT = 500
# Apache's and uvicorn's default keep-alive timeout is 5 s, httpx's pool expiry too: a pooled
# connection reused just as the server closes it fails with "connection reset" and costs the
# delivery a retry. Dropping idle connections a second earlier avoids the race.
KEEPALIVE_EXPIRY = 4.0


def make_client(
    *,
    base_url: str = "",
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    auth: httpx.Auth | tuple[str, str] | None = None,
    max_connections: int = 20,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
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
    )


def excerpt(response: httpx.Response) -> str:
    try:
        return response.text[:EXCERPT]
    except Exception:  # undecodable body: keep the attempt row readable
        return repr(response.content[:EXCERPT])


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


def request(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    """Send; transport failures become TransientError. Status codes are left to the caller
    (providers differ), with `raise_for_status` below as the common mapping."""
    try:
        return client.request(method, url, **kwargs)  # type: ignore[arg-type,unused-ignore]
    except httpx.TimeoutException as exc:
        raise TransientError(f"超时 / timeout: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"连接失败 / connection error: {type(exc).__name__}: {exc}"[:300]) from exc


def raise_for_status(response: httpx.Response, what: str = "request") -> None:
    """The common status mapping: 2xx passes; 401/403 config; 408/5xx transient; 429 rate
    limited; other 4xx permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = excerpt(response)
    if status in (401, 403):
        raise ChannelConfigError(
            f"{what}: 凭据被拒绝 / credentials rejected ({status})", http_status=status, response_excerpt=body
        )
    if status == 429:
        raise RateLimitedError(
            f"{what}: 请求过多 / rate limited (429)",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            http_status=status,
            response_excerpt=body,
        )
    if status == 408 or status >= 500:
        raise TransientError(
            f"{what}: 服务暂不可用 / server error ({status})", http_status=status, response_excerpt=body
        )
    raise PermanentError(f"{what}: 被拒绝 / rejected ({status})", http_status=status, response_excerpt=body)
