"""A real uvicorn server for an ASGI app, on a free port, in a thread (always stopped)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support import wait_for


@contextmanager
def serve(app: Any, *, log_level: str = "warning") -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def up() -> bool:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped before it started")
        return bool(server.started)

    wait_for(up, 10, "uvicorn started", every=0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
