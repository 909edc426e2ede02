"""One access token shared by every worker, kept in Redis and refreshed under a Redis lock.

WeChat allows 2,000 token fetches a day and a new fetch invalidates the previous token five
minutes later (DOMAIN.md §4), so workers that each fetched their own token would both burn
the quota and knock each other's tokens out. Here the token lives in one Redis key that
expires `margin` seconds before WeChat's expiry; whoever finds it missing (or rejected)
takes the lock, re-reads, and only fetches if nobody else did in the meantime.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from redis.exceptions import LockError, RedisError

from channels.base import TransientError


class SharedToken:
    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        key: str,
        fetch: Callable[[], tuple[str, int]],
        margin: float = 300.0,
        lock_timeout: float = 15.0,
        lock_wait: float = 10.0,
    ) -> None:
        self._redis = client
        self.key = key
        self._fetch = fetch
        self._margin = margin
        self._lock_timeout = lock_timeout
        self._lock_wait = lock_wait

    def _read(self) -> str | None:
        try:
            value = self._redis.get(self.key)
        except RedisError as exc:
            raise TransientError(f"Redis 不可用 / Redis unavailable: {exc}"[:300]) from exc
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def get(self) -> str:
        """The current token, fetching one (under the lock) if there is none."""
        return self._read() or self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """Replace `stale` (the token WeChat just rejected, or None when none was cached).
        If another worker already replaced it, its token is returned without a fetch."""
        lock = self._redis.lock(
            f"{self.key}:lock", timeout=self._lock_timeout, blocking_timeout=self._lock_wait
        )
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise TransientError(f"Redis 不可用 / Redis unavailable: {exc}"[:300]) from exc
        if not acquired:
            raise TransientError("access_token 刷新锁繁忙 / token refresh lock busy")
        try:
            current = self._read()
            if current is not None and current != stale:
                return current
            token, expires_in = self._fetch()
            margin = min(self._margin, expires_in / 2)
            try:
                self._redis.set(self.key, token, px=max(1000, int((expires_in - margin) * 1000)))
            except RedisError as exc:
                raise TransientError(f"Redis 不可用 / Redis unavailable: {exc}"[:300]) from exc
            return token
        finally:
            try:
                lock.release()
            except (LockError, RedisError):
                pass  # lock expired meanwhile: the next refresher simply takes it

    def forget(self) -> None:
        try:
            self._redis.delete(self.key)
        except RedisError as exc:
            raise TransientError(f"Redis 不可用 / Redis unavailable: {exc}"[:300]) from exc
