"""A real HTTP origin for the security tests: routes answer with status, headers and body
(or a function for streaming and slow answers), and every request is counted, so a test can
prove that a refused fetch never reached it."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Origin:
    routes: dict[str, Answer] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.netloc}{path}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stops reading a refused body is expected here


class _V6Server(_Server):
    address_family = socket.AF_INET6


@contextmanager
def serve(routes: dict[str, Answer] | None = None, host: str = "127.0.0.1") -> Iterator[Origin]:
    origin = Origin(routes=dict(routes or {}), host=host)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            origin.hits.append(self.path)
            answer = origin.routes.get(self.path.split("?")[0], (404, {}, b"not found"))
            if callable(answer):
                answer(self)
                return
            status, headers, body = answer
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _answer  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = (_V6Server if ":" in host else _Server)((host, 0), Handler)
    origin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full: a connect to it hangs (SYNs are dropped) until
    the socket closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = []
    try:
        for _ in range(8):  # queue connections until one is left hanging
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            queued.append(c)
            if not select.select([], [c], [], 0.2)[1]:
                break
        else:
            raise RuntimeError("the listen queue never filled")
        yield port
    finally:
        for c in queued:
            c.close()
        server.close()


def bounded(fn: Any, seconds: float = 5.0) -> Any:
    """Run `fn` in a thread; fail (not hang) if it takes longer than `seconds`."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"]
