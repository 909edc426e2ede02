"""The egress guard: the one way to fetch a URL that came from content or from a provider.

Item bodies name URLs (in-body images, covers, attachments, links) and providers hand URLs
back (permalinks). Fetching one of them from inside the bureau's network is where
server-side request forgery happens: `http://169.254.169.254/…`, `http://127.0.0.1:6379/`,
a public name that resolves to `10.0.0.5`, a public URL that redirects to an internal one,
or a name whose DNS answer changes between our check and our connect (DNS rebinding).
Every such fetch goes through `EgressGuard.fetch`:

    guard = EgressGuard(EgressSettings(allow_hosts=frozenset({"files.intranet"})))
    got = guard.fetch(url, max_bytes=1_000_000, accept=("image/",))
    got.content, got.content_type, got.status, got.url (after redirects), got.redirects
    guard.fetch(url, method="HEAD", check_status=False)      # a link check: any status back
    guard.close()

The rules, each enforced where it cannot be walked around:
- the URL: `http` or `https` only, a host, no user-info (`http://a@b/`), at most 2,048
  characters;
- the address, at connect time: the guard resolves the host itself, checks every address,
  connects to the address it checked (never resolves again) and checks the socket's peer
  once connected. Refused: loopback, private (RFC 1918, ULA), link-local, CGNAT
  (100.64/10), multicast, unspecified, reserved and other not globally routable ranges,
  IPv4-mapped and IPv4-compatible IPv6, NAT64 (64:ff9b::/96, 64:ff9b:1::/48), and 6to4 or
  Teredo addresses that embed any of those. A host the operator allow-lists explicitly
  (`[egress] allow_hosts`, "host" for any port or "host:port") may have any address;
- redirects: followed by the guard, at most `max_redirects` hops, each hop's URL and
  address checked again as above (the connection to a redirect target is a new connect);
- size: a declared Content-Length over `max_bytes` is refused before the body is read, the
  body is streamed and refused at the first byte over the cap (after decompression, so a
  gzip bomb is capped too);
- time: connect and per-read timeouts, and `total_seconds` for the whole fetch, redirects
  and a slowly trickling body included;
- nothing ambient: no proxy from the environment, no cookies kept, no credentials sent.

Errors (all `ChannelError`s, so an adapter simply lets them be that delivery's outcome):

    PermanentError
    ├── EgressRefusedError    the URL or an address it leads to is forbidden (scheme,
    │                         user-info, address, a redirect hop, too many redirects)
    ├── EgressTooLargeError   more than `max_bytes`
    └── (plain)               4xx (401/403 included) or an unaccepted Content-Type
    TransientError            timeouts, connection failures, 408/425/429/5xx: later

Never `ChannelConfigError`: nothing a content URL answers may pause a channel; only a
provider rejecting our own credentials does that.

Tests and tools can replace DNS with `EgressSettings(resolver=...)` (a name such as
`rebind.test` then resolves to whatever the test says, and the address checks run on it),
or the network with `EgressGuard(..., transport=httpx.MockTransport(...))`, which bypasses
the connect-time check: use it only for status classification tables.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

import httpcore
import httpx

from channels._http import CONTENT, KEEPALIVE_EXPIRY
from channels.base import PermanentError, TransientError
from publisher.domain.numbers import ascii_digits

__all__ = [
    "EgressGuard",
    "EgressRefusedError",
    "EgressSettings",
    "EgressTooLargeError",
    "Fetched",
    "Resolver",
    "address_problem",
    "check_url",
    "egress_settings",
    "static_problem",
]

USER_AGENT = "publisher/0.1 (+government information disclosure)"
MAX_URL = 2048
_EXCERPT = 200

# (host, port) -> addresses as text, in the order to try them
Resolver = Callable[[str, int], Sequence[str]]


class EgressRefusedError(PermanentError):
    """The guard would not fetch `url`: `reason` says why (scheme, address, redirect…)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"外部地址被拒绝 / egress refused: {url[:_EXCERPT]}: {reason}"[:400])
        self.url = url
        self.reason = reason


class EgressTooLargeError(PermanentError):
    def __init__(self, url: str, limit: int) -> None:
        super().__init__(f"内容超过 {limit} 字节 / larger than {limit} bytes: {url[:_EXCERPT]}")
        self.url = url
        self.limit = limit


@dataclass(frozen=True)
class EgressSettings:
    """`[egress]` in the configuration (see `egress_settings`); `resolver` only from code."""

    allow_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_seconds: float = 60.0
    max_redirects: int = 5
    max_bytes: int = 20 * 1024 * 1024
    max_connections: int = 10
    resolver: Resolver | None = field(default=None, compare=False)

    def allowing(self, *hosts: str) -> EgressSettings:
        """A copy that also allows `hosts` (an adapter's own, operator-configured host)."""
        return replace(self, allow_hosts=self.allow_hosts | {_norm_entry(h) for h in hosts if h})


def egress_settings(section: Mapping[str, Any]) -> EgressSettings:
    """Read the `[egress]` section; unknown keys and bad values raise ValueError."""
    known = {
        "allow_hosts",
        "connect_timeout",
        "read_timeout",
        "total_seconds",
        "max_redirects",
        "max_bytes",
        "max_connections",
    }
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"egress: unknown key(s) {', '.join(unknown)}")
    hosts = section.get("allow_hosts", [])
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",") if h.strip()]
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ValueError("egress.allow_hosts must be a list of host or host:port strings")
    values: dict[str, Any] = {"allow_hosts": frozenset(_norm_entry(h) for h in hosts)}
    for key in ("connect_timeout", "read_timeout", "total_seconds"):
        if key in section:
            values[key] = float(section[key])
            if values[key] <= 0:
                raise ValueError(f"egress.{key} must be positive")
    for key in ("max_redirects", "max_bytes", "max_connections"):
        if key in section:
            values[key] = int(section[key])
            if values[key] < (0 if key == "max_redirects" else 1):
                raise ValueError(f"egress.{key} is out of range")
    return EgressSettings(**values)


@dataclass(frozen=True)
class Fetched:
    """What a fetch got. `url` is the final URL; `redirects` the URLs that redirected to it,
    the requested one first (empty when the first answer was final)."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    redirects: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("Content-Type", "")
        return value.split(";")[0].strip().lower()


# ---------------------------------------------------------------- address policy


def _norm_entry(entry: str) -> str:
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("[") and "]" in entry:  # [::1]:8080 -> ::1:8080 would be ambiguous
        host, _, rest = entry[1:].partition("]")
        return f"{host}{rest}" if rest.startswith(":") else host
    return entry


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def address_problem(address: str) -> str | None:
    """Why `address` may not be fetched from (None: a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"不是 IP 地址 / not an IP address ({address[:60]})"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"IPv4 映射地址 / IPv4-mapped address {ip}"
        if any(ip in net for net in _NAT64):
            return f"NAT64 地址 / NAT64 address {ip}"
        if ip.sixtofour is not None:
            inner = address_problem(str(ip.sixtofour))
            if inner:
                return f"6to4 地址内嵌 / 6to4 address {ip} embeds {inner}"
        if ip.teredo is not None:
            for inner_ip in ip.teredo:
                inner = address_problem(str(inner_ip))
                if inner:
                    return f"Teredo 地址内嵌 / Teredo address {ip} embeds {inner}"
        if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d, deprecated IPv4-compatible
            return f"IPv4 兼容地址 / IPv4-compatible address {ip}"
    if ip.is_unspecified:
        return f"未指定地址 / unspecified address {ip}"
    if ip.is_loopback:
        return f"回环地址 / loopback address {ip}"
    if ip.is_link_local:
        return f"链路本地地址 / link-local address {ip}"
    if ip.is_multicast:
        return f"组播地址 / multicast address {ip}"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"运营商级 NAT 地址 / CGNAT address {ip}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return f"站点本地地址 / site-local address {ip}"
    if any(ip in net for net in _PRIVATE):
        return f"内网地址 / private address {ip}"
    if ip.is_reserved or not ip.is_global:
        return f"非公网地址 / not a public address {ip}"
    return None


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_REDIRECTS = (301, 302, 303, 307, 308)


class _AddressRefused(Exception):
    """Raised inside the connection pool; the guard turns it into EgressRefusedError with
    the URL (the pool knows only host and port)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Backend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving and checking the address itself and connecting
    to exactly the address it checked: no second DNS answer can slip in between."""

    def __init__(self, settings: EgressSettings) -> None:
        self.settings = settings
        self.resolve: Resolver = settings.resolver or _system_resolver

    def allowed(self, host: str, port: int) -> bool:
        hosts = self.settings.allow_hosts
        host = host.lower().rstrip(".")
        return host in hosts or f"{host}:{port}" in hosts

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        allowed = self.allowed(host, port)
        try:
            addresses = (
                [str(ipaddress.ip_address(host))] if _is_literal(host) else list(self.resolve(host, port))
            )
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refused: list[str] = []
        last: Exception | None = None
        for address in addresses:
            problem = None if allowed else address_problem(address)
            if problem:
                refused.append(problem)
                continue
            try:
                # the checked literal, never the name: nothing is resolved a second time
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            sock = stream.get_extra_info("socket")
            peer = str(sock.getpeername()[0]) if sock is not None else ""
            problem = None if allowed else address_problem(peer)
            if problem:  # cannot happen after connecting to a checked literal; checked anyway
                stream.close()
                raise _AddressRefused(problem)
            return stream
        if refused and last is None:
            raise _AddressRefused("; ".join(dict.fromkeys(refused)))
        if last is not None:
            raise last
        raise httpcore.ConnectError(f"{host} has no address")


@cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context (certifi's roots, nothing from the environment) for every
    guard in the process: building one loads the whole CA bundle, some 20-40 ms of CPU, and
    each adapter instance (one per worker thread) builds a guard. A context is safe to share
    between threads and connections."""
    return httpx.create_ssl_context(trust_env=False)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets come from `_Backend`. httpx
    takes no network backend, so the pool it built is replaced before first use (both with
    the shared context, so neither builds one of its own)."""

    def __init__(self, settings: EgressSettings) -> None:
        super().__init__(verify=_tls(), trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls(),
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,  # a second before servers drop idle ones
            network_backend=_Backend(settings),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        location = response.headers.get("Location")
        if response.status_code in _REDIRECTS and location is not None:
            # httpx parses a redirect's Location even when it does not follow it, and calls an
            # unparsable one a protocol error, which reads as a network fault worth retrying;
            # a server that answers so will answer so again: refuse it here, permanently.
            try:
                request.url.join(httpx.URL(location))
            except (httpx.InvalidURL, ValueError) as exc:
                response.close()
                raise _AddressRefused(f"重定向地址无效 / bad redirect Location: {str(exc)[:100]}") from None
        return response


# ---------------------------------------------------------------- the guard


def check_url(url: str) -> httpx.URL:
    """The checks that need no network: scheme, host, user-info, length."""
    if len(url) > MAX_URL:
        raise EgressRefusedError(url, f"地址过长 / URL longer than {MAX_URL} characters")
    try:
        parsed = httpx.URL(url)
        # the host is decoded on access: a malformed IDNA label ("xn--") fails only here
        host = parsed.host
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise EgressRefusedError(url, f"地址无效 / invalid URL: {str(exc)[:100]}") from exc
    if parsed.scheme not in ("http", "https"):
        raise EgressRefusedError(url, f"只允许 http/https / scheme {parsed.scheme or '(none)'!r} not allowed")
    if not host:
        raise EgressRefusedError(url, "缺少主机名 / no host")
    if parsed.userinfo:
        raise EgressRefusedError(url, "地址含用户名或密码 / URL carries credentials")
    return parsed


def static_problem(url: str, settings: EgressSettings | None = None) -> str | None:
    """Why the guard will refuse `url`, as far as can be told without the network (pre-flight
    at approval, so the approver sees it): scheme, user-info, length, and a host that is an
    address literal (or `localhost`) in a forbidden range, unless allow-listed. None: maybe
    fine (a name's addresses are only known at connect time)."""
    try:
        parsed = check_url(url)
    except EgressRefusedError as exc:
        return exc.reason
    host = parsed.host.lower().rstrip(".")
    allowed = (settings or EgressSettings()).allow_hosts
    if host in allowed or f"{host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}" in allowed:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"回环地址 / loopback name {host}"
    return address_problem(host) if _is_literal(host) else None


class EgressGuard:
    """Fetches content URLs under the rules in the module docstring. Thread-safe; keeps a
    small connection pool, so build one per adapter and `close` it with the adapter."""

    def __init__(
        self, settings: EgressSettings | None = None, *, transport: httpx.BaseTransport | None = None
    ):
        self.settings = settings or EgressSettings()
        self._client = httpx.Client(
            transport=transport or _Transport(self.settings),
            timeout=httpx.Timeout(
                connect=self.settings.connect_timeout,
                read=self.settings.read_timeout,
                write=self.settings.read_timeout,
                pool=self.settings.connect_timeout,
            ),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        accept: Collection[str] = (),
        method: Literal["GET", "HEAD"] = "GET",
        headers: Mapping[str, str] | None = None,
        max_redirects: int | None = None,
        check_status: bool = True,
    ) -> Fetched:
        """Fetch `url`, following redirects. `accept`: media-type prefixes the answer must
        have (`("image/",)`; empty: any). `check_status=False` returns any final status
        (link checks) instead of raising for 4xx/5xx; refusals, the size cap and transport
        failures raise either way."""
        limit = self.settings.max_bytes if max_bytes is None else max_bytes
        hops = self.settings.max_redirects if max_redirects is None else max_redirects
        deadline = time.monotonic() + self.settings.total_seconds
        sent = {"Accept": ", ".join(f"{a}*" if a.endswith("/") else a for a in accept) or "*/*"}
        sent.update(headers or {})
        redirects: list[str] = []
        current = url
        while True:
            via = f"（重定向至 / redirected to {current[:_EXCERPT]}）" if redirects else ""
            try:
                target = check_url(current)
                fetched = self._one(current, target, method, sent, limit, deadline)
            except _AddressRefused as exc:
                raise EgressRefusedError(url, exc.reason + via) from None
            except EgressRefusedError as exc:
                raise EgressRefusedError(url, exc.reason + via) from None
            location = fetched.headers.get("Location")
            if fetched.status in _REDIRECTS and location:
                if len(redirects) >= hops:
                    if not check_status:  # the caller looks at the redirect itself
                        return replace(fetched, redirects=tuple(redirects))
                    raise EgressRefusedError(url, f"重定向超过 {hops} 次 / more than {hops} redirect(s)")
                redirects.append(current)
                try:
                    current = str(target.join(location))
                except (httpx.InvalidURL, ValueError) as exc:
                    raise EgressRefusedError(url, f"重定向地址无效 / bad redirect: {exc}") from exc
                if fetched.status == 303:
                    method = "GET"
                continue
            fetched = replace(fetched, redirects=tuple(redirects))
            if check_status:
                _raise_for_status(fetched)
                if accept and not any(fetched.content_type.startswith(a) for a in accept):
                    raise PermanentError(
                        f"内容类型不符 / unexpected content type {fetched.content_type or '(none)'}: "
                        f"{fetched.url[:_EXCERPT]}",
                        http_status=fetched.status,
                    )
            return fetched

    def _one(
        self,
        url: str,
        target: httpx.URL,
        method: str,
        headers: Mapping[str, str],
        limit: int,
        deadline: float,
    ) -> Fetched:
        try:
            with self._client.stream(method, target, headers=headers) as response:
                redirect = response.status_code in _REDIRECTS
                declared = response.headers.get("Content-Length", "")
                if not redirect and ascii_digits(declared) and int(declared) > limit:
                    raise EgressTooLargeError(url, limit)
                chunks: list[bytes] = []
                size = 0
                if method != "HEAD" and not redirect:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise EgressTooLargeError(url, limit)
                        if time.monotonic() > deadline:
                            raise _timeout(url, self.settings.total_seconds)
                        chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _timeout(url, self.settings.total_seconds)
                return Fetched(str(response.url), response.status_code, response.headers, b"".join(chunks))
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"外部地址超时 / fetch timed out ({type(exc).__name__}): {url[:_EXCERPT]}"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"外部地址连接失败 / fetch failed ({type(exc).__name__}: {str(exc)[:100]}): {url[:_EXCERPT]}"
            ) from exc


def _timeout(url: str, seconds: float) -> TransientError:
    return TransientError(
        f"外部地址超过 {seconds:g} 秒未完成 / fetch took longer than {seconds:g} s: {url[:_EXCERPT]}"
    )


def _raise_for_status(fetched: Fetched) -> None:
    err = CONTENT.error(fetched.status, fetched.url[:_EXCERPT], headers=fetched.headers)
    if err is not None:
        raise err
