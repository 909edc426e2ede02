"""Fixtures for the Celery executor tests: PostgreSQL, a receiver, and a `cluster` factory
that starts real `celery worker` / `celery beat` processes against a config file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from publisher.editorial.auth import Actor
from publisher.runtime import Runtime, attach_executor, build_runtime
from publisher.settings import load_settings
from publisher.store.models import Attempt, Delivery
from tasks.executor import CeleryExecutor
from tests.conftest import _reset_pg, redis_url
from tests.receiver import SECRET
from tests.samples import policy
from tests.support import wait_for

from .harness import Proc, celery_beat, celery_worker, process_env, write_config

SHARED_REDIS_DB = 7  # the machine's shared Redis: DBs 7-9 are ours, and only those are flushed


@pytest.fixture
def pg_url(pg_database: str) -> str:
    _reset_pg(pg_database)
    return pg_database


@pytest.fixture
def shared_redis_url() -> str:
    url = redis_url(SHARED_REDIS_DB)
    redis.Redis.from_url(url).flushdb()
    return url


@dataclass
class Cluster:
    runtime: Runtime
    executor: CeleryExecutor
    env: dict[str, str]
    log_dir: Path
    workers: dict[str, Proc] = field(default_factory=dict)
    beat: Proc | None = None
    actors: dict[str, Actor] = field(default_factory=dict)

    def add_worker(self, name: str, concurrency: int = 12) -> Proc:
        w = celery_worker(name, self.env, self.log_dir, concurrency=concurrency).start()
        self.workers[name] = w
        return w

    def start_beat(self) -> Proc:
        self.beat = celery_beat(self.env, self.log_dir).start()
        return self.beat

    def publish(self, **overrides: Any) -> str:
        svc = self.runtime.service
        item = svc.create_item(self.actors["editor"], policy(**overrides))
        svc.submit(self.actors["editor"], item.uid)
        svc.review(self.actors["reviewer"], item.uid)
        svc.approve(self.actors["approver"], item.uid)
        return item.uid

    def states(self) -> dict[str, int]:
        with self.runtime.db.reader() as s:
            return dict(
                s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).tuples().all()
            )

    def deliveries(self) -> list[Delivery]:
        with self.runtime.db.reader() as s:
            return list(s.execute(select(Delivery).order_by(Delivery.id)).scalars())

    def attempts(self) -> list[Attempt]:
        with self.runtime.db.reader() as s:
            return list(s.execute(select(Attempt).order_by(Attempt.id)).scalars())

    def sweeps_done(self) -> int:
        """Sweeps the workers have finished, from their logs ("Task publisher.sweep[…] succeeded")."""
        return sum(
            1
            for w in self.workers.values()
            for line in w.log.read_text(errors="replace").splitlines()
            if "publisher.sweep[" in line and "succeeded" in line
        )

    def after_sweeps(self, rounds: int = 3, timeout: float = 30.0) -> None:
        """Wait until beat's sweeps have run `rounds` more times on the workers: "nothing
        happened" is then measured against sweeps that would have sent anything due, not
        against a sleep."""
        start = self.sweeps_done()
        wait_for(lambda: self.sweeps_done() >= start + rounds, timeout, f"{rounds} sweeps did not run")

    def logs(self) -> str:
        procs = list(self.workers.values()) + ([self.beat] if self.beat else [])
        return "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs)

    def close(self) -> None:
        for p in list(self.workers.values()) + ([self.beat] if self.beat else []):
            p.stop()
        self.executor.stop()
        self.runtime.close()


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Cluster]]:
    """cluster(db_url=, broker_url=, subscribers={name: url}, webhook={...}) → a Cluster whose
    web side (this process) approves items and hands deliveries over through CeleryExecutor."""
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", SECRET)
    made: list[Cluster] = []

    def make(
        *,
        db_url: str,
        broker_url: str,
        subscribers: dict[str, str],
        webhook: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> Cluster:
        config = write_config(
            tmp_path / "publisher.toml",
            db_url=db_url,
            broker_url=broker_url,
            subscribers=subscribers,
            webhook=webhook,
        )
        proc_env = process_env(config, {"PUBLISHER_TEST_WEBHOOK_SECRET": SECRET, **(env or {})})
        settings = load_settings(env={}, path=config)
        rt = build_runtime(settings)
        # the way `publisher serve` picks it: by entry point, because a broker is configured
        ex = attach_executor(rt)
        assert isinstance(ex, CeleryExecutor)
        c = Cluster(rt, ex, proc_env, tmp_path)
        for name, role in [("editor", "editor"), ("reviewer", "reviewer"), ("approver", "approver")]:
            c.actors[name] = rt.service.add_user(name, role)[0]
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
