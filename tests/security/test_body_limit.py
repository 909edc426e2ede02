"""Request bodies are capped at the ASGI layer while they stream in (publisher/web/limits.py),
before authentication, CSRF or parsing: attacked over a real uvicorn with chunked uploads
(no Content-Length to trust), with a declared Content-Length that is never sent, and on
the API, the login form and the provider callbacks."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.conftest import Team
from tests.publisher.web.live import serve
from tests.samples import policy

LIMIT = 64 * 1024
CALLBACK_LIMIT = 8 * 1024


@dataclass
class Site:
    rt: Runtime
    url: str
    team: Team

    def items(self) -> int:
        total, _ = self.rt.service.list_items()
        return total


@pytest.fixture
def site(make_runtime: Callable[..., Runtime], team: Team) -> Iterator[Site]:
    rt = make_runtime(
        channels={"rss": {"enabled": True}},
        web={"max_body_bytes": LIMIT, "max_callback_body_bytes": CALLBACK_LIMIT},
    )
    with serve(create_app(rt)) as url:
        yield Site(rt, url, team)


def chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    """A JSON-ish body of `total` bytes, sent chunked (httpx streams a generator)."""
    yield b'{"title": "'
    sent = 11
    while sent < total:
        piece = b"x" * min(size, total - sent)
        sent += len(piece)
        yield piece


def assert_413(r: httpx.Response, limit: int) -> None:
    assert r.status_code == 413, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "body" and "请求内容过大" in error["message"] and str(limit) in error["message"]
    assert r.headers["x-content-type-options"] == "nosniff"  # still behind the security headers


def test_chunked_oversized_api_body_is_refused_before_auth_and_parsing(site: Site) -> None:
    before = site.items()
    token = {"Authorization": f"Bearer {site.team.tokens['editor']}"}
    with httpx.Client(base_url=site.url, timeout=30) as client:
        r = client.post("/api/items", content=chunks(LIMIT + 50_000), headers=token)
        assert "content-length" not in r.request.headers  # chunked: nothing declared
        assert_413(r, LIMIT)
        # no token at all: still 413, not 401 (the cap comes before authentication)
        assert_413(client.post("/api/items", content=chunks(LIMIT + 1)), LIMIT)
        # within the limit the same request goes through
        ok = client.post("/api/items", json=policy(), headers=token)
        assert ok.status_code == 201, ok.text
    assert site.items() == before + 1


def test_exactly_at_the_limit_passes_and_one_byte_over_is_refused(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        # a body at the limit reaches the app (whose authentication then answers 401)
        assert (
            client.post(
                "/api/items", content=chunks(LIMIT), headers={"Authorization": "Bearer x"}
            ).status_code
            == 401
        )
        assert_413(client.post("/api/items", content=chunks(LIMIT + 1)), LIMIT)


def test_a_client_still_sending_reads_its_413_not_a_reset(site: Site) -> None:
    # The server refuses while the last bytes of the body (or the chunked terminator) are
    # still in flight; it must take them in before closing, or the kernel answers the unread
    # bytes with RST and the client sees "connection reset by peer" instead of the 413.
    # A race, so tried many times, chunked and with a declared length.
    body = b"x" * (LIMIT + 1)
    for _ in range(10):
        with httpx.Client(base_url=site.url, timeout=30) as client:
            assert_413(client.post("/api/items", content=chunks(LIMIT + 1)), LIMIT)
        with httpx.Client(base_url=site.url, timeout=30) as client:
            assert_413(client.post("/api/items", content=body), LIMIT)


def test_form_posts_are_capped_before_csrf_and_login(site: Site) -> None:
    form = b"name=editor&password=" + b"p" * (LIMIT + 10) + b"&csrf=x"
    with httpx.Client(base_url=site.url, timeout=30) as client:
        r = client.post(
            "/app/login",
            content=iter([form[i : i + 1000] for i in range(0, len(form), 1000)]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert_413(r, LIMIT)
    assert "set-cookie" not in r.headers  # the login handler never ran


def test_callbacks_have_their_own_smaller_cap(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        assert_413(client.post("/callbacks/wechat", content=chunks(CALLBACK_LIMIT + 1)), CALLBACK_LIMIT)
        # under the cap the router runs (no such channel here: 404)
        assert client.post("/callbacks/wechat", content=b"<xml/>").status_code == 404
        # the general limit is not the callbacks' limit
        assert client.post("/api/items", content=chunks(CALLBACK_LIMIT + 1)).status_code == 401


def raw_request(url: str, head: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head.encode())
    return sock


def read_status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            break
        data += got
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_a_declared_length_over_the_limit_is_refused_without_reading(site: Site) -> None:
    # a client announces 1 GB and sends nothing: the answer comes at once
    sock = raw_request(
        site.url,
        "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10**9}\r\n\r\n",
    )
    try:
        status, data = read_status(sock)
    finally:
        sock.close()
    assert status == 413 and b"connection: close" in data.lower()


def test_a_stream_is_cut_off_near_the_limit_not_at_its_end(site: Site) -> None:
    # a chunked upload that would go on for 200 MB: the 413 arrives while it is still sending
    sock = raw_request(
        site.url,
        "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"x" * 16384
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    status = 0
    try:
        while sent < 200 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                status, _ = read_status(sock)
                break
            try:
                sock.sendall(framed)
            except OSError:  # the server closed after answering: read what it said
                status, _ = read_status(sock)
                break
            sent += len(chunk)
    finally:
        sock.close()
    assert status == 413
    assert sent < 20 * 1024 * 1024, f"the server read {sent} bytes before refusing"


def test_the_limit_is_a_setting_and_documented() -> None:
    from publisher.settings import Settings

    assert Settings().web.max_body_bytes == 16 * 1024 * 1024
    assert Settings().web.max_callback_body_bytes == 256 * 1024
    text = open("config/publisher.example.toml", encoding="utf-8").read()
    assert "max_body_bytes" in text and "max_callback_body_bytes" in text
