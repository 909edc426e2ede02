"""Shared bench helpers: throwaway databases and a result table."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


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
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if conn.execute(exists, (full,)).fetchone() is None:
            if tag and conn.execute(exists, (name,)).fetchone() is not None:
                conn.execute(f'CREATE DATABASE "{full}" TEMPLATE "{name}"')
            else:
                conn.execute(f'CREATE DATABASE "{full}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{full}"


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
