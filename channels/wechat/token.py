"""One access token shared by every worker, kept in the channel's shared values (the
database) and refreshed under a lease there; Redis, when configured, caches it in front.

WeChat allows 2,000 token fetches a day and a new fetch invalidates the previous token five
minutes later (DOMAIN.md §4), so workers that each fetched their own token would both burn
the quota and knock each other's tokens out. Here the token lives in one shared value that
expires `margin` seconds before WeChat's expiry; whoever finds it missing (or rejected)
takes the lease, re-reads, and only fetches if nobody else did in the meantime. Each process
also keeps the token it last saw, so an API call costs no read of the store; a token another
worker replaced is noticed when WeChat rejects the old one (then re-read, not re-fetched).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

from channels.base import SharedValues, TransientError

log = logging.getLogger(__name__)


class SharedToken:
    def __init__(
        self,
        shared: SharedValues,
        *,
        name: str,
        fetch: Callable[[], tuple[str, int]],
        margin: float = 300.0,
        lock_timeout: float = 15.0,
        lock_wait: float = 10.0,
        redis_client: redis.Redis[bytes] | None = None,
        redis_key: str = "",
    ) -> None:
        self._shared = shared
        self.name = name
        self._fetch = fetch
        self._margin = margin
        self._lock_timeout = lock_timeout
        self._lock_wait = lock_wait
        self._redis = redis_client
        self._redis_key = redis_key
        self._mine: tuple[str, float] | None = None  # (token, monotonic expiry) seen last here
        self._guard = threading.Lock()

    # -- the layers: this process, Redis (optional, best effort), the database -------------

    def _local(self) -> str | None:
        with self._guard:
            if self._mine is not None and self._mine[1] > time.monotonic():
                return self._mine[0]
        return None

    def _keep(self, token: str, ttl: float) -> None:
        with self._guard:
            self._mine = (token, time.monotonic() + ttl)

    def _from_redis(self) -> str | None:
        if self._redis is None:
            return None
        try:
            value = self._redis.get(self._redis_key)
        except RedisError as exc:  # the database still has it
            log.warning("wechat token: Redis unavailable, reading the database: %s", exc)
            return None
        return value.decode() if isinstance(value, bytes) else None

    def _to_redis(self, token: str, ttl: float) -> None:
        if self._redis is not None:
            try:
                self._redis.set(self._redis_key, token, px=max(1000, int(ttl * 1000)))
            except RedisError as exc:
                log.warning("wechat token: cannot cache in Redis: %s", exc)

    def _stored(self) -> tuple[str, float] | None:
        entry = self._shared.get(self.name)
        if not isinstance(entry, dict) or "token" not in entry:
            return None
        return str(entry["token"]), max(1.0, float(entry.get("until", 0)) - time.time())

    def get(self) -> str:
        """The current token, fetching one (under the lease) if there is none."""
        token = self._local() or self._from_redis()
        if token:
            return token
        stored = self._stored()
        if stored is not None:
            self._keep(*stored)
            self._to_redis(*stored)
            return stored[0]
        return self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """Replace `stale` (the token WeChat just rejected, or None when none was cached).
        If another worker already replaced it, its token is returned without a fetch."""
        lease, owner = f"{self.name}:lock", uuid.uuid4().hex
        deadline = time.monotonic() + self._lock_wait
        while not self._shared.claim(lease, owner, self._lock_timeout):
            if time.monotonic() >= deadline:
                raise TransientError("access_token 刷新锁繁忙 / token refresh lock busy")
            time.sleep(0.05)
        try:
            stored = self._stored()
            if stored is not None and stored[0] != stale:
                self._keep(*stored)
                self._to_redis(*stored)
                return stored[0]
            token, expires_in = self._fetch()
            ttl = max(1.0, expires_in - min(self._margin, expires_in / 2))
            self._shared.put(self.name, {"token": token, "until": time.time() + ttl}, ttl=ttl)
            self._keep(token, ttl)
            self._to_redis(token, ttl)
            return token
        finally:
            try:
                self._shared.release(lease, owner)
            except TransientError:
                pass  # the lease expires on its own

    def forget(self) -> None:
        with self._guard:
            self._mine = None
        self._shared.delete(self.name)
        if self._redis is not None:
            try:
                self._redis.delete(self._redis_key)
            except RedisError as exc:
                log.warning("wechat token: cannot drop the Redis copy: %s", exc)
