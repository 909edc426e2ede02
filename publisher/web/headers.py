"""Security headers on every response, and the attributes every cookie we set must carry.

A pure ASGI middleware (it never buffers a body, so streamed downloads and feeds stay
streamed). The Content-Security-Policy allows scripts only from our own origin: templates
carry no inline script and no `on*=` handler (a test crawls every page for both), so a
script that slipped into content could not run even if the sanitiser missed it. Inline
*styles* stay allowed: WeChat articles are styled inline and the preview shows them as sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        # previews and bodies show images from the agency's hosts, as the channels will
        "img-src 'self' data: http: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# FastAPI's interactive API documentation loads its scripts from a CDN with an inline
# bootstrap; it shows no content, so it gets this narrower exception and nothing else does.
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def cookie_attributes(value: bytes, *, secure: bool) -> bytes:
    """HttpOnly and a SameSite for every cookie (Lax unless the setter chose stricter), and
    Secure when the service is reached over https: whoever sets a cookie cannot forget one."""
    parts = [p.strip().lower() for p in value.split(b";")[1:]]
    names = {p.split(b"=", 1)[0] for p in parts}
    out = value
    if b"httponly" not in names:
        out += b"; HttpOnly"
    if b"samesite" not in names:
        out += b"; SameSite=Lax"
    if secure and b"secure" not in names:
        out += b"; Secure"
    return out


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path") in DOCS_PATHS else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(self._headers(message.get("headers", []), csp))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, headers: Iterable[tuple[bytes, bytes]], csp: str) -> Iterable[tuple[bytes, bytes]]:
        present = set()
        for name, value in headers:
            lower = name.lower()
            present.add(lower)
            if lower == b"set-cookie":
                value = cookie_attributes(value, secure=self.secure_cookies)
            yield name, value
        if b"content-security-policy" not in present:
            yield b"content-security-policy", csp.encode()
        for name, value in COMMON:
            if name not in present:
                yield name, value
