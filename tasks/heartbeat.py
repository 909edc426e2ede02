"""Worker heartbeats in Redis, for /readyz: each running worker keeps a key
`publisher:worker:<name>` alive with a TTL; no key means no live worker."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import redis

log = logging.getLogger(__name__)

KEY_PREFIX = "publisher:worker:"
SWEEP_LOCK = "publisher:sweep:lock"
# Set (without expiry) by the first sweep that finds it missing: a broker that comes back
# without it restarted empty (or was flushed), and the messages it held are gone.
BROKER_EPOCH = "publisher:broker:epoch"


def client(url: str) -> redis.Redis[bytes]:
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


class Heartbeat:
    def __init__(self, broker_url: str, name: str, ttl: float) -> None:
        self.key = KEY_PREFIX + name
        self.name = name
        self.ttl = ttl
        self._redis = client(broker_url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        value = json.dumps({"name": self.name, "pid": os.getpid(), "at": time.time()})
        self._redis.set(self.key, value, px=int(self.ttl * 1000))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:  # the broker is down; the key simply expires
                log.warning("worker heartbeat failed: %s", exc)
            self._stop.wait(self.ttl / 3)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._redis.delete(self.key)
        except redis.RedisError:
            pass
        self._redis.close()


def live_workers(broker_url: str) -> list[str]:
    """Names of workers whose heartbeat has not expired."""
    r = client(broker_url)
    try:
        return sorted(k.decode()[len(KEY_PREFIX) :] for k in r.scan_iter(match=KEY_PREFIX + "*"))
    finally:
        r.close()
