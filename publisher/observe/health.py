"""Readiness (`/readyz`): the database answers, the broker answers (when one is configured),
some worker is alive to send deliveries, and every enabled channel's own dependencies answer
(`channel:<name>:<dependency>`, from adapters that declare them: channels.base.HasDependencies).

A live worker means, for the embedded executor, that its sweeper finished a round recently;
for Celery, that a worker keeps its heartbeat key `publisher:worker:<name>` (written with a
TTL by tasks/heartbeat.py) alive in Redis. The core never imports tasks/, so the key prefix
is repeated here; no key means no live worker, and the check fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import text

from channels.base import ChannelError, HasDependencies
from publisher.runtime import Runtime

WORKER_KEY_PREFIX = "publisher:worker:"  # tasks/heartbeat.py KEY_PREFIX
BROKER_TIMEOUT = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


def check_database(runtime: Runtime) -> Check:
    started = time.perf_counter()
    try:
        with runtime.db.reader() as s:
            s.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:  # any driver error means "not ready"; the text says which
        return Check("database", False, f"{type(exc).__name__}: {exc}"[:300])
    return Check("database", True, f"{(time.perf_counter() - started) * 1000:.1f} ms")


def _redis(url: str) -> redis.Redis[bytes]:
    return redis.Redis.from_url(url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT)


def check_broker(runtime: Runtime) -> Check | None:
    url = runtime.settings.broker_url
    if not url:
        return None
    client = _redis(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check("broker", False, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        client.close()
    return Check("broker", True, "PING ok")


def sweep_stale_after(runtime: Runtime) -> float:
    # a sweep round also confirms accepted deliveries, so allow it a few intervals
    return max(15.0, 10 * runtime.settings.executor.sweep_interval_seconds)


def check_worker(runtime: Runtime, now: float | None = None) -> Check:
    now = time.time() if now is None else now
    if runtime.settings.broker_url:
        client = _redis(runtime.settings.broker_url)
        try:
            names = sorted(
                k.decode()[len(WORKER_KEY_PREFIX) :]
                for k in client.scan_iter(match=WORKER_KEY_PREFIX + "*", count=100)
            )
        except redis.RedisError as exc:
            return Check("worker", False, f"无法读取心跳 / heartbeats unknown: {type(exc).__name__}")
        finally:
            client.close()
        if not names:
            return Check("worker", False, "没有存活的 worker 心跳 / no live worker heartbeat")
        return Check("worker", True, f"{len(names)} live: {', '.join(names[:10])}")
    last = getattr(runtime.executor, "last_sweep", None)
    if runtime.executor is None or last is None:
        return Check("worker", False, "没有运行的执行器 / no executor running")
    if not last:
        return Check("worker", False, "执行器尚未完成首次巡检 / the sweeper has not run yet")
    age = now - float(last)
    if age > sweep_stale_after(runtime):
        return Check("worker", False, f"执行器超过 {age:.0f} 秒未巡检 / sweeper last ran {age:.0f} s ago")
    return Check("worker", True, f"embedded executor, last sweep {age:.1f} s ago")


def check_channels(runtime: Runtime) -> list[Check]:
    """Each enabled channel's declared dependencies; a channel that cannot even be built (a
    missing secret) is itself not ready."""
    out: list[Check] = []
    for name in runtime.settings.enabled_channels():
        try:
            adapter = runtime.channels.get(name)
        except Exception as exc:  # any reason it cannot be built makes the channel unusable
            out.append(Check(f"channel:{name}", False, f"{type(exc).__name__}: {exc}"[:300]))
            continue
        if not isinstance(adapter, HasDependencies):
            continue
        for dep, check in adapter.dependencies().items():
            try:
                out.append(Check(f"channel:{name}:{dep}", True, check()))
            except ChannelError as exc:
                out.append(Check(f"channel:{name}:{dep}", False, exc.message))
    return out


def readiness(runtime: Runtime) -> tuple[bool, dict[str, dict[str, Any]]]:
    checks = [check_database(runtime), check_broker(runtime), check_worker(runtime), *check_channels(runtime)]
    found = [c for c in checks if c is not None]
    return all(c.ok for c in found), {c.name: c.as_dict() for c in found}
