"""Shared bench helpers: throwaway databases, the local stand-ins as subprocesses, and a result
table."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[1]
# the WeChat stand-in's credentials and where the adapter keeps its token and image cache
WECHAT_APPID, WECHAT_SECRET, WECHAT_TOKEN = (
    "wx0000localstandin",
    "bench-standin-secret",
    "bench-callback-token",
)
WECHAT_SECRET_ENV, WECHAT_TOKEN_ENV = "PUBLISHER_BENCH_WECHAT_SECRET", "PUBLISHER_BENCH_WECHAT_TOKEN"
WECHAT_REDIS_URL = "redis://127.0.0.1:6379/5"
CITY_SECRET_ENV = "PUBLISHER_BENCH_CITY_SECRET"
ITEM_TYPES = ["policy", "interpretation", "fee_change", "consultation", "notice", "procurement_result"]


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A fresh, migrated database URL of `kind` ('sqlite' or 'postgres'), removed afterwards."""
    from publisher.store.migrate import upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"pubbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s AND pid<>pg_backend_pid()",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def kept_database_url(kind: str, name: str) -> str:
    """The URL of a seeded database kept between runs, created empty when missing.

    BENCH_DB_TAG gives a private copy (`<name>_<tag>`): an engineer whose branch migrates the
    schema, or who times while others do, works on their own. On PostgreSQL a missing tagged
    copy is cloned from the shared database (CREATE DATABASE … TEMPLATE, minutes instead of the
    hour a 1M-item seeding takes) when that one exists and nobody is connected to it."""
    tag = os.environ.get("BENCH_DB_TAG", "").strip()
    full = f"{name}_{tag}" if tag else name
    if kind == "sqlite":
        folder = Path(os.environ.get("BENCH_DATA_DIR", tempfile.gettempdir()))
        folder.mkdir(parents=True, exist_ok=True)
        if tag and not (folder / f"{full}.db").exists() and (folder / f"{name}.db").exists():
            import shutil

            shutil.copyfile(folder / f"{name}.db", folder / f"{full}.db")
        return f"sqlite:///{folder / (full + '.db')}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if not pg_exists(conn, full):
            if tag and pg_exists(conn, name):
                clone_database(conn, full, name)
            else:
                conn.execute(f'CREATE DATABASE "{full}"')
    return pg_url(full)


def pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def pg_exists(conn: psycopg.Connection, name: str) -> bool:  # type: ignore[type-arg]
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


CLONE_WAIT = float(os.environ.get("BENCH_CLONE_WAIT", "1800"))


def clone_database(conn: psycopg.Connection, name: str, source: str) -> None:  # type: ignore[type-arg]
    """CREATE DATABASE `name` TEMPLATE `source`. PostgreSQL refuses while anyone is connected
    to the source (another engineer's bench timing on it): retried every 15 s for up to
    BENCH_CLONE_WAIT seconds (30 minutes)."""
    deadline = time.monotonic() + CLONE_WAIT
    started = time.perf_counter()
    while True:
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
            break
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            print(f"  {source} is in use; cloning it again in 15 s", flush=True)
            time.sleep(15)
    print(f"  {name}: cloned from {source} in {time.perf_counter() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalServer:
    """A module of this checkout (`python -m module --port N ...`) run as a subprocess on a free
    port, so its work does not compete for this process's GIL; ready once `/` answers."""

    name = "local server"

    def __init__(self, module: str, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.base, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the {self.name} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class WechatStandin(LocalServer):
    """The local WeChat stand-in (channels/standins/wechat_server.py); sets the secret and the
    callback token in the environment the channel section names."""

    name = "WeChat stand-in"

    def __init__(self) -> None:
        os.environ[WECHAT_SECRET_ENV], os.environ[WECHAT_TOKEN_ENV] = WECHAT_SECRET, WECHAT_TOKEN
        super().__init__(
            "channels.standins.wechat_server",
            *("--appid", WECHAT_APPID, "--secret", WECHAT_SECRET, "--token", WECHAT_TOKEN),
            *("--publish-delay", "0.05"),
        )

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        res = httpx.request(method, f"{self.base}_admin/{path}", json=body, timeout=30)
        res.raise_for_status()
        return res.json()

    def section(self, key_prefix: str, **extra: Any) -> dict[str, Any]:
        """The `wechat` channel's settings against this stand-in, plus `extra`."""
        return {
            "enabled": True,
            "api_base_url": f"{self.base}cgi-bin/",
            "appid": WECHAT_APPID,
            "secret_env": WECHAT_SECRET_ENV,
            "callback_token_env": WECHAT_TOKEN_ENV,
            "redis_url": WECHAT_REDIS_URL,
            "key_prefix": key_prefix,
            **extra,
        }


class CityReceiver(LocalServer):
    """The city platform's reference receiver (channels/standins/cityplatform_receiver.py),
    confirming each record after 50 ms; its signing secret is put in the environment."""

    name = "reference receiver"

    def __init__(self, folder: Path) -> None:
        secret = folder / "city.secret"
        super().__init__(
            "channels.standins.cityplatform_receiver", "--secret-file", str(secret), "--delay", "0.05"
        )
        os.environ[CITY_SECRET_ENV] = secret.read_text(encoding="utf-8").split()[0]

    def section(self) -> dict[str, Any]:
        """The `cityplatform` channel's settings: one target taking every item type."""
        target = {"name": "disclosure", "url": f"{self.base}records", "secret_env": CITY_SECRET_ENV}
        return {
            "enabled": True,
            "targets": [{**target, "types": ITEM_TYPES}],
            "confirm_interval_seconds": 0.2,
        }


def wait_deliveries(
    rt: Any,
    n: int,
    states: tuple[str, ...] = ("delivered",),
    *,
    bad: tuple[str, ...] = ("failed", "held"),
    where: tuple[Any, ...] = (),
    timeout: float = 600.0,
    poll: float = 0.02,
) -> None:
    """Wait until `n` deliveries (of those `where` selects) are in `states`; raises as soon as
    any is in a `bad` state, or at `timeout` seconds."""
    from sqlalchemy import func, select

    from publisher.store.models import Delivery

    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        with rt.db.reader() as s:
            count = select(func.count()).select_from(Delivery).where(*where)
            done = s.execute(count.where(Delivery.state.in_(states))).scalar_one()
            failed = s.execute(count.where(Delivery.state.in_(bad))).scalar_one() if bad else 0
        if failed:
            raise RuntimeError(f"{failed} deliveries are {', '.join(bad)}")
        if done >= n:
            return
        time.sleep(poll)
    raise RuntimeError(f"only {done} of {n} deliveries reached {', '.join(states)} in {timeout} s")


# what a seeding fills, emptied (children first) before a kept database is seeded again
SEEDED_TABLES = ("reminders", "audit_events", "attempts", "deliveries", "item_versions", "items", "users")


@contextmanager
def seeded_database(
    kind: str, name: str, seed: Callable[[str], dict[str, Any]], *, reuse: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A migrated database filled by `seed(url)`, and the counts it returned. With `reuse`, the
    kept database `name` (`kept_database_url`) is seeded once — its marker table is written
    last, so an interrupted seeding starts over — and a later run only migrates it ("reused",
    "migrated" seconds); without, a throwaway one."""
    from sqlalchemy import text

    from publisher.store.db import Database
    from publisher.store.migrate import upgrade

    if not reuse:
        with scratch_database(kind) as url:
            yield url, {**seed(url), "reused": False}
        return
    url = kept_database_url(kind, name)
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_seeded (info TEXT NOT NULL)")
            marker = conn.exec_driver_sql("SELECT info FROM bench_seeded").scalar()
    finally:
        db.dispose()
    started = time.perf_counter()
    upgrade(url)
    migrated = round(time.perf_counter() - started, 1)
    if marker is not None:
        yield url, {**json.loads(marker), "reused": True, "migrated": migrated}
        return
    db = Database(url)
    try:
        with db.engine.begin() as conn:  # a half-seeded database: the schema stays
            for table in SEEDED_TABLES:
                conn.exec_driver_sql(f"DELETE FROM {table}")
    finally:
        db.dispose()
    counts = seed(url)
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM bench_seeded")
            conn.execute(text("INSERT INTO bench_seeded (info) VALUES (:i)"), {"i": json.dumps(counts)})
    finally:
        db.dispose()
    yield url, {**counts, "reused": False}


FLAT_RATIO = 1.5  # a median at the large size over its median at the small one, at most


def flatness(
    kind: str,
    small: int,
    large: int,
    pairs: list[tuple[str, float, float]],
    into: list[Row],
    *,
    what: str,
    baseline: str | None = None,
) -> bool:
    """Print each (label, median ms at `small` items, median ms at `large`) with its ratio
    against FLAT_RATIO, add the rows to `into`; True when every row met it (the `baseline`
    row is printed only)."""
    width = max(len(p[0]) for p in pairs)
    head, big = f"{small:,} items", f"{large:,} items"
    print(
        f"\n[{kind}] flatness of the {what}: median ms at {head} and at {big} (target: ratio <= {FLAT_RATIO}x)"
    )
    print(f"{what[:-1].ljust(width)} | {head:>12} | {big:>13} | ratio | met")
    print("-" * (width + 44))
    ok = True
    for label, a, b in pairs:
        ratio = b / a if a else float("inf")
        good = ratio <= FLAT_RATIO
        if label != baseline:
            ok = ok and good
            into.append(
                (
                    f"{label} ({kind}) median at {large:,} items",
                    f"{b:.1f} ms",
                    f"{a:.1f} ms at {small:,} items",
                    ratio,
                    f"<= {FLAT_RATIO}x",
                )
            )
        print(f"{label.ljust(width)} | {a:12.1f} | {b:13.1f} | {ratio:5.2f} | {'yes' if good else 'NO'}")
    return ok


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


Row = tuple[str, str, str, float | str, str]


def report(rows: list[Row]) -> None:
    """Print the rows as a table; when BENCH_JSON names a file (bench/run_all.py sets it),
    also write them there so the runner can collect every bench's figures."""
    printable = [(a, b, c, f"{d:.2f}x" if isinstance(d, float) else d, e) for a, b, c, d, e in rows]
    print()
    print(table(printable))
    target = os.environ.get("BENCH_JSON")
    if target:
        Path(target).write_text(json.dumps([list(r) for r in rows], ensure_ascii=False), encoding="utf-8")


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = ("figure", "measured", "baseline", "ratio", "target")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *map(line, rows)])
