"""Browser sessions for the editor and ops pages: a random session id in a signed cookie,
the session itself (who, CSRF token, flash messages) in memory.

In memory is enough: one `publisher serve` process answers the pages, a restart logs people
out, and no table or migration is needed. The cookie is signed (HMAC-SHA256) so a forged or
truncated id is refused before any lookup; the key comes from PUBLISHER_SESSION_SECRET when
set (several processes behind one proxy must share it), else a random key per process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

from publisher.domain.item import Role

COOKIE = "publisher_session"
LOGIN_COOKIE = "publisher_login_csrf"
IDLE_SECONDS = 8 * 3600


@dataclass
class PageSession:
    sid: str
    user_id: int
    name: str
    role: Role
    csrf: str
    expires: float
    epoch: int = 0  # the user's session_epoch at login; checked against the store per request
    flash: list[tuple[str, str]] = field(default_factory=list)


class SessionStore:
    def __init__(self, key: bytes | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        env = os.environ.get("PUBLISHER_SESSION_SECRET")
        self._key = key or (env.encode() if env else secrets.token_bytes(32))
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, PageSession] = {}
        self._lock = threading.Lock()

    # -- cookie signing ----------------------------------------------------------------------
    def sign(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{value}.{mac}"

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie or len(cookie) > 200:
            return None
        value, _, mac = cookie.rpartition(".")
        if hmac.compare_digest(self.sign(value), cookie):
            return value
        return None

    # -- sessions ----------------------------------------------------------------------------
    def create(self, user_id: int, name: str, role: Role, epoch: int = 0) -> PageSession:
        now = time.time()
        session = PageSession(
            sid=secrets.token_urlsafe(24),
            user_id=user_id,
            name=name,
            role=role,
            csrf=secrets.token_urlsafe(24),
            expires=now + self.idle_seconds,
            epoch=epoch,
        )
        with self._lock:
            self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
            self._sessions[session.sid] = session
        return session

    def get(self, cookie: str | None) -> PageSession | None:
        sid = self.unsign(cookie)
        if sid is None:
            return None
        now = time.time()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or session.expires <= now:
                self._sessions.pop(sid, None)
                return None
            session.expires = now + self.idle_seconds
            return session

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def __len__(self) -> int:
        return len(self._sessions)
