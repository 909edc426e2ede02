"""A real HTTP webhook receiver for tests: verifies Standard Webhooks signatures, records
every request, and answers from a script (status codes, Retry-After, delays)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from channels import signing

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="  # 32 bytes, base64


@dataclass
class Hit:
    at: float
    path: str
    webhook_id: str
    status: int
    body: dict[str, Any]
    signature_ok: bool
    raw: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_or_empty(raw: bytes) -> Any:
    """The body as JSON, or {} when it is not JSON (a form ping; the raw body is kept too)."""
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {}


@dataclass
class Receiver:
    """`script` holds (status, headers, delay) answers used in order; then `default` applies."""

    secret: str = SECRET
    # False: any POST is taken (a WebSub hub's unsigned form ping); signature_ok still tells
    verify: bool = True
    default: int = 200
    delay: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    script: deque[tuple[int, dict[str, str], float]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def answer(self, *answers: int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], float]) -> None:
        with self.lock:
            for a in answers:
                if isinstance(a, int):
                    self.script.append((a, {}, 0.0))
                elif len(a) == 2:
                    self.script.append((a[0], a[1], 0.0))
                else:
                    self.script.append(a)  # type: ignore[arg-type]

    def ids(self, status: int | None = None) -> list[str]:
        with self.lock:
            return [h.webhook_id for h in self.hits if status is None or h.status == status]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    signing.verify_headers([receiver.secret], self.headers, raw, now=time.time())
                    ok = True
                except signing.VerificationError:
                    ok = False
                with receiver.lock:
                    status, headers, delay = (
                        receiver.script.popleft()
                        if receiver.script
                        else (receiver.default, {}, receiver.delay)
                    )
                    if not ok and receiver.verify:
                        status = 401
                    receiver.hits.append(
                        Hit(
                            time.time(),
                            self.path,
                            self.headers.get("webhook-id", ""),
                            status,
                            _json_or_empty(raw),
                            ok,
                            raw,
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                if delay:
                    time.sleep(delay)
                body = b'{"ok":true}' if status < 300 else b'{"error":"scripted"}'
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def webhook_channels(receiver_url: str, name: str = "hooks", **extra: Any) -> dict[str, dict[str, Any]]:
    """A `channels` settings block with one webhook subscriber pointing at the receiver."""
    section = {
        "enabled": True,
        "kind": "webhook",
        "url": receiver_url,
        "secret_env": "PUBLISHER_TEST_WEBHOOK_SECRET",
    }
    section.update(extra)
    return {f"webhook.{name}": section}
