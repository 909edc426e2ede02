"""Shared fixtures: a fresh, migrated store per test on SQLite and on PostgreSQL.

PostgreSQL is required (127.0.0.1:5432 here; `scripts/test.sh` starts it where missing):
if it cannot be reached the PostgreSQL variants fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory

from publisher.delivery.executor import EmbeddedExecutor
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings
from publisher.store.db import Database
from publisher.store.migrate import alembic_config, upgrade
from tests.receiver import SECRET, Receiver

PG_ADMIN_URL = os.environ.get("PUBLISHER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
# The machine's shared Redis (host:port); a second checkout testing at the same time points this
# at a Redis of its own, since the tests flush the databases they use.
REDIS_ADDRESS = os.environ.get("PUBLISHER_TEST_REDIS", "127.0.0.1:6379")


def redis_url(db: int) -> str:
    return f"redis://{REDIS_ADDRESS}/{db}"


ALL_CHANNELS = {k: {"enabled": True} for k in ("rss", "cms", "wechat", "cityplatform")}


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@contextmanager
def scratch_pg_database(prefix: str = "pubtest") -> Iterator[str]:
    """A new, empty PostgreSQL database for as long as the block runs; its URL. Dropped with
    FORCE at the end: a pool that reconnects between a terminate and a plain DROP left
    "database is being accessed by other users" errors in teardown."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database for this test session (dropped at the end)."""
    with scratch_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database (not the migrated template the other tests use), for the
    tests of the migrations themselves."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_pg_database("pubmig") as url:
        yield url


@contextmanager
def backfilled(url: str, opening: str, seed: Callable[[Database], None]) -> Iterator[Database]:
    """The database at `url` (empty) migrated up to the migration whose docstring starts with
    `opening` (found by content, so a renumbering does not break the test), seeded there by
    `seed`, then migrated through that migration: a test of what the migration backfills."""
    script = ScriptDirectory.from_config(alembic_config(url))
    found = [r for r in script.walk_revisions() if (r.module.__doc__ or "").startswith(opening)]
    assert len(found) == 1, f"{len(found)} migrations start with {opening!r}"
    before = found[0].down_revision
    assert isinstance(before, str)
    upgrade(url, before)
    db = Database(url)
    try:
        seed(db)
    finally:
        db.dispose()
    upgrade(url, found[0].revision)
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _reset_pg(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
            )
        ]
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s)", ("0" * 64,))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "publisher.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook endpoint (tests/receiver.py); modules needing another behaviour
    override this fixture."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def alerts_rx() -> Iterator[Receiver]:
    """A second endpoint, where alerts go (the alert modules and the Celery alert test); the
    receiver checks the Standard Webhooks signature of every request."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database={"url": db_url},
        channels={k: dict(v) for k, v in ALL_CHANNELS.items()},
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.db_url)
    yield database
    database.dispose()


@dataclass
class Team:
    editor: Actor
    editor2: Actor
    reviewer: Actor
    approver: Actor
    approver2: Actor
    ops: Actor
    admin: Actor
    sysadmin: Actor
    secadmin: Actor
    auditor: Actor
    tokens: dict[str, str]


@pytest.fixture
def service(db: Database, settings: Settings) -> Service:
    return Service(db, settings)


@pytest.fixture
def team(service: Service) -> Team:
    actors, tokens = {}, {}
    for name, role in [
        ("editor", "editor"),
        ("editor2", "editor"),
        ("reviewer", "reviewer"),
        ("approver", "approver"),
        ("approver2", "approver"),
        ("ops", "ops"),
        ("admin", "admin"),
        ("sysadmin", "sysadmin"),
        ("secadmin", "secadmin"),
        ("auditor", "auditor"),
    ]:
        actor, token = service.add_user(name, role)
        actors[name], tokens[name] = actor, token
    return Team(**actors, tokens=tokens)


@pytest.fixture
def make_runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Runtime]]:
    """The one runtime factory: `make_runtime(channels={...}, **other settings changes)` builds
    a runtime on the test's store with the embedded executor (`threads` per channel, sweeping
    every `sweep` seconds), started unless `start=False`; `executor=False` for none;
    `executor_section` changes `[executor]` (its periodic interval). Every runtime made is
    closed after the test. Webhook subscribers find their secret in
    PUBLISHER_TEST_WEBHOOK_SECRET (tests/receiver.py)."""
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", SECRET)
    made: list[Runtime] = []

    def make(
        channels: dict[str, dict[str, Any]] | None = None,
        *,
        executor: bool = True,
        start: bool = True,
        threads: int = 2,
        sweep: float = 0.05,
        executor_section: dict[str, Any] | None = None,
        **changes: Any,
    ) -> Runtime:
        if channels is not None:
            changes["channels"] = channels
        if executor_section is not None:
            changes["executor"] = settings.executor.model_copy(update=executor_section)
        rt = build_runtime(settings.replace(**changes) if changes else settings)
        made.append(rt)
        if executor:
            use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=threads, sweep_interval=sweep))
            if start:
                rt.start()
        return rt

    yield make
    for rt in reversed(made):
        rt.close()


def with_channels(settings: Settings, *kinds: str) -> Settings:
    return settings.replace(channels={k: {"enabled": True} for k in kinds})


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus's promtool (Debian's `prometheus` package, which scripts/services.sh installs;
    tried here too): the test fails, never skips, when it cannot be had."""
    path = shutil.which("promtool")
    if path is None:
        subprocess.run(
            ["apt-get", "install", "-y", "prometheus"], check=False, capture_output=True, timeout=600
        )
        path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing and `apt-get install -y prometheus` did not provide it")
    return path
