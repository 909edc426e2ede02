"""The egress guard's connection layer (channels/egress.py: `_Backend`, `_Transport`,
`_system_resolver`) against local servers with short timeouts: the address asked for and
connected to, the order addresses are tried in, what a failed resolution or connection
says, the socket's peer checked again once connected, the connection limit and the shared
TLS context. Each test takes well under a second (a hang is bounded by a thread join), so
mutation testing can afford them (issue 22, docs/testing.md).

Loopback stands in for the network: 127.0.0.2 is a second address nothing listens on
unless a test serves there, and `address_problem` is replaced where a test needs loopback
to count as public (the only way to reach the peer check without the internet).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from channels import egress
from channels._http import KEEPALIVE_EXPIRY
from channels.base import TransientError
from channels.egress import EgressGuard, EgressRefusedError, EgressSettings
from tests.security.origin import Origin, bounded, serve, unanswered_port
from tests.support import wait_for

BODY = b"content"


@pytest.fixture
def origin() -> Iterator[Origin]:
    with serve({"/a": (200, {"Content-Type": "text/plain"}, BODY)}) as o:
        yield o


def named(
    resolver: egress.Resolver, hosts: tuple[str, ...] = ("files.intranet",), **kwargs: Any
) -> EgressGuard:
    """A guard allowing `hosts` whose DNS is `resolver`."""
    return EgressGuard(EgressSettings(allow_hosts=frozenset(hosts), resolver=resolver, **kwargs))


def test_the_resolver_is_asked_for_the_host_and_the_port(origin: Origin) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    g = named(resolver)
    assert g.fetch(f"http://files.intranet:{origin.port}/a").content == BODY
    # a fully qualified name (trailing dot) is the same allow-listed host
    assert g.fetch(f"http://Files.Intranet.:{origin.port}/a").content == BODY
    assert asked == [("files.intranet", origin.port), ("files.intranet.", origin.port)]


def test_the_connection_goes_to_the_address_resolved() -> None:
    with serve({"/a": (200, {}, BODY)}, host="127.0.0.2") as second:
        got = named(lambda h, p: ["127.0.0.2"]).fetch(f"http://files.intranet:{second.port}/a")
        assert got.content == BODY and second.hits == ["/a"]


def test_the_next_address_is_tried_when_one_refuses_the_connection(origin: Origin) -> None:
    tried = named(lambda h, p: ["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
    assert tried.fetch(f"http://files.intranet:{origin.port}/a").content == BODY
    assert origin.hits == ["/a"]


def test_a_refused_connection_is_transient_and_says_so(origin: Origin) -> None:
    g = named(lambda h, p: ["127.0.0.2"])
    url = f"http://files.intranet:{origin.port}/a"
    with pytest.raises(TransientError) as info:
        g.fetch(url)
    assert info.value.message == (
        f"外部地址连接失败 / fetch failed (ConnectError: [Errno 111] Connection refused): {url}"
    )


def test_a_name_without_addresses_or_that_cannot_be_resolved_is_transient(origin: Origin) -> None:
    url = f"http://nothing.test:{origin.port}/a"
    with pytest.raises(TransientError) as info:
        EgressGuard(EgressSettings(resolver=lambda h, p: [])).fetch(url)
    assert info.value.message == (
        f"外部地址连接失败 / fetch failed (ConnectError: nothing.test has no address): {url}"
    )

    def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known " * 5)

    with pytest.raises(TransientError) as info:
        EgressGuard(EgressSettings(resolver=failing)).fetch(url)
    said = "cannot resolve nothing.test: " + "Name or service not known " * 5
    assert info.value.message == f"外部地址连接失败 / fetch failed (ConnectError: {said[:100]}): {url}"
    assert origin.hits == []


def test_every_forbidden_answer_is_named_once(origin: Origin) -> None:
    g = EgressGuard(EgressSettings(resolver=lambda h, p: ["10.0.0.1", "127.0.0.1", "10.0.0.1"]))
    with pytest.raises(EgressRefusedError) as info:
        g.fetch(f"http://two.test:{origin.port}/a")
    assert info.value.reason == "内网地址 / private address 10.0.0.1; 回环地址 / loopback address 127.0.0.1"
    assert origin.hits == []


def test_the_system_resolver_answers_each_address_once(origin: Origin) -> None:
    assert egress._system_resolver("127.0.0.2", 80) == ["127.0.0.2"]
    assert egress._system_resolver("::1", 80) == ["::1"]
    # without a resolver in the settings, the system's: localhost allow-listed by name
    local = EgressGuard(EgressSettings(allow_hosts=frozenset({f"localhost:{origin.port}"})))
    assert local.fetch(f"http://localhost:{origin.port}/a").content == BODY


# ---------------------------------------------------------------- the peer, checked again
def test_the_connected_peer_is_checked_again(origin: Origin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting to a checked literal cannot land elsewhere, so the second check after
    connecting never refuses in practice; here a policy that counts loopback as public
    shows it runs, on the socket's peer, and a policy that changes its mind between the
    two looks shows that it refuses before any request is sent."""
    real = egress.address_problem
    looked: list[str] = []

    def loopback_public(address: str) -> str | None:
        looked.append(address)
        return None if address == "127.0.0.1" else real(address)

    monkeypatch.setattr(egress, "address_problem", loopback_public)
    g = EgressGuard(EgressSettings(resolver=lambda h, p: ["127.0.0.1"]))
    assert g.fetch(f"http://public.test:{origin.port}/a").content == BODY
    assert looked == ["127.0.0.1", "127.0.0.1"]  # the answer, then the connected peer

    def second_look_refuses(address: str) -> str | None:
        looked.append(address)
        return None if len(looked) % 2 else "对端地址 / peer refused"

    looked.clear()
    monkeypatch.setattr(egress, "address_problem", second_look_refuses)
    url = f"http://public.test:{origin.port}/a"
    with pytest.raises(EgressRefusedError) as info:
        EgressGuard(EgressSettings(resolver=lambda h, p: ["127.0.0.1"])).fetch(url)
    assert (info.value.url, info.value.reason) == (url, "对端地址 / peer refused")
    assert looked == ["127.0.0.1", "127.0.0.1"] and origin.hits == ["/a"]  # only the first fetch


# ---------------------------------------------------------------- timeouts and limits
def test_the_connect_timeout_applies() -> None:
    with unanswered_port() as port:
        g = named(lambda h, p: ["127.0.0.1"], connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TransientError, match=r"timed out \(ConnectTimeout\)"):
            bounded(lambda: g.fetch(f"http://files.intranet:{port}/a"))
        assert time.monotonic() - started < 3


def test_max_connections_bounds_the_pool(origin: Origin) -> None:
    release = threading.Event()

    def hold(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)
        handler.send_response(200)
        handler.send_header("Content-Length", "4")
        handler.end_headers()
        handler.wfile.write(b"held")

    origin.routes["/hold"] = hold
    g = EgressGuard(
        EgressSettings(allow_hosts=frozenset({"127.0.0.1"}), max_connections=1, connect_timeout=0.3)
    )
    held = threading.Thread(target=lambda: g.fetch(origin.url("/hold")), daemon=True)
    held.start()
    try:
        wait_for(lambda: origin.hits == ["/hold"], 5, "the first fetch held")
        with pytest.raises(TransientError, match=r"timed out \(PoolTimeout\)"):
            bounded(lambda: g.fetch(origin.url("/a")), 2)
        assert origin.hits == ["/hold"]
    finally:
        release.set()
        held.join(5)
    assert g.fetch(origin.url("/a")).content == BODY  # the one connection, free again


def test_guards_share_one_tls_context(origin: Origin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a TLS context loads the CA bundle (20-40 ms of CPU): neither a new guard
    nor an https connection may build one of its own."""
    egress._tls()
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    g = EgressGuard(EgressSettings(allow_hosts=frozenset({"127.0.0.1"})))
    # TLS to a plain HTTP server: the handshake fails, after the context is chosen
    with pytest.raises(TransientError, match="SSL"):
        g.fetch(f"https://127.0.0.1:{origin.port}/a")
    assert built == []


def test_idle_connections_are_dropped_before_servers_drop_them() -> None:
    """A pooled connection reused as the server closes it fails ("connection reset"):
    the pool lets idle connections go after `_http.KEEPALIVE_EXPIRY` (4 s), a second
    before the common servers' 5 s. Read from the pool: showing it by behaviour would
    idle a test for 4 s."""
    pool = EgressGuard(EgressSettings(max_connections=3))._client._transport._pool  # type: ignore[attr-defined]
    assert pool._keepalive_expiry == KEEPALIVE_EXPIRY == 4.0
    assert (pool._max_connections, pool._max_keepalive_connections) == (3, 3)
