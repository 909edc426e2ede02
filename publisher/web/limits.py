"""Request bodies capped before anything reads them.

A pure ASGI middleware, outside everything else in the app: it reads the body as it
streams in and answers 413 the moment the count passes the limit (or at once, when a
declared Content-Length already does), before authentication, CSRF checks, form or JSON
parsing, and before any handler runs; chunked uploads are counted the same way. A body
within the limit is handed on unchanged. Two limits (`[web]`): `max_body_bytes` for every
request (16 MiB by default: an item body may hold 2,000,000 characters of HTML, 12 MB when
JSON escapes every CJK character in six bytes), and the much
smaller `max_callback_body_bytes` for `/callbacks/…`, where providers push events of a
few KB and anyone on the internet may call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CALLBACKS = "/callbacks/"
# After refusing, what the client is still sending is read and thrown away, this much at most
# and for this long at most (nginx's lingering close does the same): a socket closed with
# unread bytes in its receive buffer answers RST, and a client still sending its last chunk
# then loses the 413 it has not read yet ("connection reset by peer" instead of the answer).
DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 2.0


def too_large_body(limit: int) -> bytes:
    message = f"请求内容过大，上限 {limit} 字节 / request body larger than {limit} bytes"
    return json.dumps({"errors": [{"field": "body", "message": message}]}, ensure_ascii=False).encode()


async def _drain(receive: Receive) -> None:
    """Discard the rest of a refused body, bounded by DRAIN_BYTES and DRAIN_SECONDS."""

    async def discard() -> None:
        left = DRAIN_BYTES
        while left > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(discard(), DRAIN_SECONDS)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_callback_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_callback = max_callback_body_bytes

    def limit_for(self, path: str) -> int:
        return self.max_callback if path.startswith(CALLBACKS) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value.strip()
                if declared.isdigit() and int(declared) > limit:
                    # a body only a little too large is on its way: take it in before
                    # answering; one far too large is refused at once, unread
                    if int(declared) <= limit + DRAIN_BYTES:
                        await _drain(receive)
                    await self._refuse(send, limit)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):
                    await _drain(receive)
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        chunks.clear()
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        content = too_large_body(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(content)).encode()),
                    # the rest of the body is never read: this connection cannot carry another request
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
