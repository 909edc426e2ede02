"""The periodic jobs' time against the size of the archive (issue 21): the work of a tick
must follow what is due or changed, never the history.

    .venv/bin/python bench/jobs.py                                  # PostgreSQL, 10,000 and 200,000 items
    .venv/bin/python bench/jobs.py --items 1000000                  # a city's archive
    .venv/bin/python bench/jobs.py --db sqlite --items 100000       # the embedded default
    .venv/bin/python bench/jobs.py --fresh --items 20000            # throwaway databases

Two databases, the small one (--flat-base, 10,000 items) and the large one, each seeded once
by bench/pages.py's seeder and kept (`bench_jobs_<items>_v1`; SQLite under BENCH_DATA_DIR or
the temp dir) — their own, so the pages bench's databases are never migrated to another
branch's schema. The archive is what years of an office look like: published items delivered
to five channels (about 2 % failed), consultations closed long ago with their adoption reports
reminded, no drafts. Every run then lays the same *current* work on both databases, relative
to the clock: a few items in the works (open deadline clocks), consultations that closed
since yesterday, queued, retrying, held and accepted deliveries, one lease that ran out, and
deliveries made today (the digests). So both sizes have the same amount due and the ratio of
their times is the cost of the history alone.

Each job is timed at both sizes in the same run, the two sides interleaved round by round
(the machine is shared) in alternating order, and printed with the ratio of the medians
(target: <= 1.5x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402

import bench.pages as pages  # noqa: E402
from bench._common import (  # noqa: E402
    PG_ADMIN,
    Row,
    clone_database,
    flatness,
    pg_exists,
    pg_url,
    report,
    seeded_database,
)
from publisher.compliance import check_consultations, check_deadlines, check_inspection  # noqa: E402
from publisher.compliance.config import compliance_settings  # noqa: E402
from publisher.delivery.periodic import run_digests, run_periodic  # noqa: E402
from publisher.editorial.views import content_hash  # noqa: E402
from publisher.runtime import Runtime, build_runtime  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.store.db import Database  # noqa: E402
from publisher.store.models import (  # noqa: E402
    AlertMark,
    Attempt,
    AuditEvent,
    Delivery,
    Item,
    ItemVersion,
    Reminder,
    User,
)

SEED_VERSION = 1  # bump when the seeded shape changes
WORK = "01work"  # uid prefix of the current work, replaced on every run
CLOSED = "2026-03-31"  # the archive's consultations all closed then


_CONTENT = pages.content


def _archive_content(n: int, item_type: str) -> dict[str, Any]:
    c = _CONTENT(n, item_type)
    if item_type == "consultation":
        c["consultation"] = {"opens": "2026-03-01", "closes": CLOSED}
    return c


def _archive_state(roll: float) -> str:
    # the archive's deliveries are settled: delivered, or failed and left for ops
    return "failed" if roll < 0.02 else "delivered"


def seed_archive(url: str, items: int) -> dict[str, Any]:
    """bench/pages.py's seed with a settled archive: its rows, with consultation blocks and
    settled deliveries, no drafts (the seed keeps every 200th item a draft), and every closed
    consultation's reminder done."""
    original = pages.content, pages._state
    pages.content, pages._state = _archive_content, _archive_state  # type: ignore[assignment]
    try:
        counts = pages.seed(url, items, len(pages.CHANNELS))
    finally:
        pages.content, pages._state = original  # type: ignore[assignment]
    db = Database(url)
    try:
        with db.transaction() as s:
            drafts = select(Item.uid).where(Item.state == "draft").scalar_subquery()
            s.execute(delete(AuditEvent).where(AuditEvent.item_uid.in_(drafts)))
            s.execute(delete(Item).where(Item.state == "draft"))
            s.execute(
                insert(Reminder).from_select(
                    ["kind", "item_uid", "title", "message", "created_at", "done_at"],
                    select(
                        text("'adoption_report'"),
                        Item.uid,
                        Item.title,
                        text("'seeded'"),
                        Item.published_at,
                        Item.published_at,
                    ).where(Item.type == "consultation", Item.state == "published"),
                )
            )
            counts["items"] = s.execute(select(func.count()).select_from(Item)).scalar_one()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        db.dispose()
    return counts


def _pages_source(kind: str, items: int) -> str | None:
    """The bench/pages.py database of this size when it is completely seeded (its marker
    written): the shared one, else this engineer's copy (BENCH_DB_TAG); its URL, or None."""
    tag = os.environ.get("BENCH_DB_TAG", "").strip()
    base = f"bench_pages_{items}_v{pages.SEED_VERSION}"
    for name in [base, f"{base}_{tag}"] if tag else [base]:
        if kind == "sqlite":
            path = Path(os.environ.get("BENCH_DATA_DIR", tempfile.gettempdir())) / f"{name}.db"
            if not path.exists():
                continue
            url = f"sqlite:///{path}"
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                if not pg_exists(conn, name):
                    continue
            url = pg_url(name)
        db = Database(url)
        try:
            with db.engine.connect() as conn:
                marker = conn.exec_driver_sql("SELECT info FROM bench_seeded").scalar()
        except Exception:  # no marker table: never seeded
            marker = None
        finally:
            db.dispose()
        if marker:
            return url
    return None


def clone_pages(kind: str, name: str, items: int) -> bool:
    """Make the missing jobs database `name` (with its BENCH_DB_TAG) a copy of the pages
    bench's seeded database of the same size, settled by `settle_archive` and marked seeded
    (so `seeded_database` only migrates it): copying takes minutes (PostgreSQL TEMPLATE, SQLite a file copy) where seeding a million items took
    an hour and more under load. False when the jobs database exists already (or its
    untagged shared one, which kept_database_url copies instead) or no pages database is
    seeded."""
    tag = os.environ.get("BENCH_DB_TAG", "").strip()
    full = f"{name}_{tag}" if tag else name
    folder = Path(os.environ.get("BENCH_DATA_DIR", tempfile.gettempdir()))
    if kind == "sqlite":
        if (folder / f"{full}.db").exists() or (tag and (folder / f"{name}.db").exists()):
            return False
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            if pg_exists(conn, full) or (tag and pg_exists(conn, name)):
                return False
    source = _pages_source(kind, items)
    if source is None:
        return False
    started = time.perf_counter()
    if kind == "sqlite":
        shutil.copyfile(source.removeprefix("sqlite:///"), folder / f"{full}.db")
        print(f"  {full}: copied from {source} in {time.perf_counter() - started:.0f} s", flush=True)
        target = f"sqlite:///{folder / (full + '.db')}"
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            clone_database(conn, full, source.rsplit("/", 1)[1])
        target = pg_url(full)
    db = Database(target)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM bench_seeded")  # the pages marker: not settled yet
    finally:
        db.dispose()
    counts = settle_archive(target, items)
    db = Database(target)
    try:  # marked last, as seeded_database does: an interrupted settling is seeded over
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_seeded (info) VALUES (:i)"), {"i": json.dumps(counts)})
    finally:
        db.dispose()
    return True


def settle_archive(url: str, items: int) -> dict[str, Any]:
    """Turn a copy of bench/pages.py's seeded database into what `seed_archive` makes of the
    same size, in SQL: the drafts and their audit events go, the deliveries left
    queued, held or retrying are delivered (with the attempt a delivery has), the consultations
    get the archive's consultation block (items and versions, hash recomputed), and their
    reminders are done. The rows are the seeder's own (the same generator by item number), so
    only those differences are written."""
    started = time.perf_counter()
    db = Database(url)
    try:
        with db.transaction() as s:
            conn = s.connection()
            drafts = select(Item.uid).where(Item.state == "draft").scalar_subquery()
            s.execute(delete(AuditEvent).where(AuditEvent.item_uid.in_(drafts)))
            s.execute(delete(Item).where(Item.state == "draft"))
            s.execute(
                text(
                    "INSERT INTO attempts (delivery_id, number, started_at, duration_ms, outcome, "
                    "http_status, worker) SELECT id, 1, created_at, 33.0, 'success', 200, 'bench' "
                    "FROM deliveries WHERE state = 'queued'"
                )
            )
            s.execute(
                text(
                    "UPDATE attempts SET outcome = 'success', http_status = 200, error = NULL "
                    "WHERE outcome = 'transient'"
                )
            )
            s.execute(
                text(
                    "UPDATE deliveries SET state = 'delivered', attempts = 1, "
                    "delivered_at = deliveries.updated_at, last_error = NULL, "
                    "url = 'https://example.gov.cn/' || deliveries.channel || '/' || items.uid "
                    "FROM items WHERE items.id = deliveries.item_id "
                    "AND deliveries.state IN ('queued', 'held', 'retry_wait')"
                )
            )
            kind = pages.TYPES.index("consultation")
            postgres = db.engine.dialect.name == "postgresql"
            content_type = "json" if postgres else "text"
            s.execute(
                text(f"CREATE TEMP TABLE settled (id bigint PRIMARY KEY, content {content_type}, hash text)")
            )
            rows = [
                (n + 1, json.dumps(c, ensure_ascii=False), content_hash(c))
                for n in range(kind, items, len(pages.TYPES))
                if n % 200 != 0  # a draft: gone
                for c in [_archive_content(n, "consultation")]
            ]
            raw = conn.connection.dbapi_connection
            if postgres:
                with raw.cursor() as cur, cur.copy("COPY settled (id, content, hash) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                raw.executemany("INSERT INTO settled (id, content, hash) VALUES (?, ?, ?)", rows)
            s.execute(text("UPDATE items SET content = t.content FROM settled t WHERE items.id = t.id"))
            s.execute(
                text(
                    "UPDATE item_versions SET content = t.content, content_hash = t.hash "
                    "FROM settled t WHERE item_versions.id = t.id"
                )
            )
            s.execute(
                insert(Reminder).from_select(
                    ["kind", "item_uid", "title", "message", "created_at", "done_at"],
                    select(
                        text("'adoption_report'"),
                        Item.uid,
                        Item.title,
                        text("'seeded'"),
                        Item.published_at,
                        Item.published_at,
                    ).where(Item.type == "consultation", Item.state == "published"),
                )
            )
            counts = {
                "items": s.execute(select(func.count()).select_from(Item)).scalar_one(),
                "deliveries": s.execute(select(func.count()).select_from(Delivery)).scalar_one(),
            }
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
    finally:
        db.dispose()
    return {**counts, "seconds": round(time.perf_counter() - started, 1), "settled_from_pages": True}


def lay_work(url: str, now: datetime) -> dict[str, int]:
    """The same current work on any archive, relative to `now`; the previous run's is removed
    first (its rows carry the WORK uid prefix)."""
    db = Database(url)
    today = now.date()
    try:
        with db.transaction() as s:
            old = select(Item.id).where(Item.uid.like(f"{WORK}%")).scalar_subquery()
            old_uids = select(Item.uid).where(Item.uid.like(f"{WORK}%")).scalar_subquery()
            s.execute(
                delete(Attempt).where(
                    Attempt.delivery_id.in_(select(Delivery.id).where(Delivery.item_id.in_(old)))
                )
            )
            s.execute(delete(Delivery).where(Delivery.item_id.in_(old)))
            s.execute(delete(ItemVersion).where(ItemVersion.item_id.in_(old)))
            s.execute(delete(Reminder).where(Reminder.item_uid.in_(old_uids)))
            s.execute(delete(AuditEvent).where(AuditEvent.item_uid.in_(old_uids)))
            s.execute(delete(Item).where(Item.uid.like(f"{WORK}%")))
            # the alert marks of earlier runs' work (keys carry the uid), so every run raises the same
            s.execute(delete(AlertMark).where(AlertMark.key.like(f"{WORK}%")))
            user = s.execute(select(User.id).where(User.name == "bench")).scalar_one()
            laid = {"in the works": 0, "consultations closed": 0, "deliveries due": 0, "accepted": 0}
            plan: list[tuple[str, str, list[tuple[str, str]]]] = []
            # 30 items in the works: drafts and items in review, clocks open or at risk
            plan += [("notice", ["draft", "in_review"][k % 2], []) for k in range(30)]
            # 10 consultations closed yesterday (reminders to add), 10 still open
            plan += [("consultation", "published", [(ch, "delivered") for ch in ("rss", "cms")])] * 20
            # 120 deliveries due (queued, retrying), 20 held behind a closed breaker, 20 accepted
            # awaiting confirmation, 1 sending whose lease ran out, 40 delivered today
            states = ["queued"] * 80 + ["retry_wait"] * 40 + ["held"] * 20 + ["accepted"] * 20 + ["sending"]
            states += ["delivered"] * 40
            for k in range(0, len(states), 4):
                plan.append(
                    (
                        "policy",
                        "published",
                        [(ch, st) for ch, st in zip(pages.CHANNELS[:4], states[k : k + 4], strict=False)],
                    )
                )
            for k, (item_type, state, deliveries) in enumerate(plan):
                uid = f"{WORK}{k:020d}"
                c = _CONTENT(900_000_000 + k, item_type)
                c["ref"], c["index_number"] = f"work-{k}", None
                c["issue_date"] = (today - timedelta(days=20 + k % 10)).isoformat()
                if item_type == "consultation":
                    closes = today - timedelta(days=1) if k % 2 == 0 else today + timedelta(days=5)
                    c["consultation"] = {
                        "opens": (today - timedelta(days=30)).isoformat(),
                        "closes": closes.isoformat(),
                    }
                    laid["consultations closed"] += k % 2 == 0
                published = state == "published"
                item_id = s.execute(
                    insert(Item)
                    .values(
                        uid=uid,
                        ref=c["ref"],
                        type=item_type,
                        state=state,
                        title=c["title"],
                        content=c,
                        validity="有效",
                        live_version=1 if published else None,
                        published_at=now - timedelta(hours=2) if published else None,
                        created_by=user,
                        created_at=now - timedelta(days=3),
                        updated_at=now - timedelta(hours=2),
                    )
                    .returning(Item.id)
                ).scalar_one()
                laid["in the works"] += not published
                if not published:
                    continue
                version_id = s.execute(
                    insert(ItemVersion)
                    .values(
                        item_id=item_id,
                        number=1,
                        content=c,
                        content_hash=content_hash(c),
                        reason="publish",
                        created_by=user,
                        created_at=now - timedelta(hours=2),
                    )
                    .returning(ItemVersion.id)
                ).scalar_one()
                for channel, st in deliveries:
                    laid["deliveries due"] += st in ("queued", "retry_wait", "held", "sending")
                    laid["accepted"] += st == "accepted"
                    s.execute(
                        insert(Delivery).values(
                            item_id=item_id,
                            version_id=version_id,
                            channel=channel,
                            operation="publish",
                            state=st,
                            key=f"{uid}.v1.{channel}.publish",
                            attempts=0 if st == "queued" else 1,
                            next_attempt_at=now - timedelta(minutes=1),
                            lease_owner="gone" if st == "sending" else None,
                            lease_expires_at=now - timedelta(minutes=5) if st == "sending" else None,
                            external_id=f"ext-{uid}-{channel}" if st == "accepted" else None,
                            created_at=now - timedelta(hours=2),
                            updated_at=now - timedelta(hours=1),
                            delivered_at=now - timedelta(hours=1) if st == "delivered" else None,
                        )
                    )
    finally:
        db.dispose()
    return laid


def _check(fn: Callable[..., object]) -> Callable[[Runtime], object]:
    def job(rt: Runtime) -> object:
        config = compliance_settings(rt.settings)
        now = datetime.now(UTC)
        if fn is check_inspection:
            return rt.db.run(lambda s: fn(s, rt.settings, now, config))
        return rt.db.run(lambda s: fn(s, now, config))

    return job


# (label, job, rounds); the sweeper's first tick releases the held and reclaims the lease, the
# median is of the steady state (what is due stays due: nothing sends it)
JOBS: list[tuple[str, Callable[[Runtime], object], int]] = [
    ("sweeper tick (leases, gates, due, confirmations)", lambda rt: rt.engine.sweep(), 15),
    ("deadline clocks (check_deadlines)", _check(check_deadlines), 7),
    ("inspection watch (check_inspection)", _check(check_inspection), 7),
    ("closed consultations (check_consultations)", _check(check_consultations), 7),
    ("daily digests (run_digests)", lambda rt: run_digests(rt.db, rt.settings, rt.channels), 7),
    ("all periodic checks (run_periodic)", lambda rt: run_periodic(rt.db, rt.settings, rt.channels), 5),
]


@contextmanager
def runtime(url: str) -> Iterator[Runtime]:
    os.environ.setdefault("PUBLISHER_BENCH_UNUSED_SECRET", "unused")
    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(
            Settings(
                data_dir=Path(tmp),
                database={"url": url},
                channels=pages.CHANNEL_SETTINGS,
                routing={t: ["rss", "cms", "wechat"] for t in pages.TYPES},
            )
        )
        try:
            yield rt
        finally:
            rt.close()


Timing = tuple[str, float, float]  # label, median ms, p95 ms


def measure(runtimes: list[Runtime], only: str | None) -> list[list[Timing]]:
    out: list[list[Timing]] = [[] for _ in runtimes]
    for label, job, rounds in JOBS:
        if only and only not in label:
            continue
        times: list[list[float]] = [[] for _ in runtimes]
        for rt in runtimes:
            job(rt)  # warm-up (and the first tick's one-off work)
        for n in range(rounds):
            # the order alternates round by round: on SQLite the second call of a pair ran a few
            # milliseconds slower whichever database it was (measured both ways)
            order = list(enumerate(runtimes))
            for k, rt in order if n % 2 == 0 else reversed(order):
                started = time.perf_counter()
                job(rt)
                times[k].append((time.perf_counter() - started) * 1000)
        for k in range(len(runtimes)):
            out[k].append((label, statistics.median(times[k]), max(times[k])))
        print(f"  {label}: " + " / ".join(f"{statistics.median(t):.1f} ms" for t in times), flush=True)
    return out


COLLECTED: list[Row] = []


def run(kind: str, items: int, small: int, reuse: bool, only: str | None) -> bool:
    sizes = [small, items]
    with ExitStack() as stack:
        runtimes = []
        now = datetime.now(UTC)
        for size in sizes:
            if reuse and not os.environ.get("BENCH_JOBS_SEED"):
                clone_pages(kind, f"bench_jobs_{size}_v{SEED_VERSION}", size)
            url, counts = stack.enter_context(
                seeded_database(
                    kind,
                    f"bench_jobs_{size}_v{SEED_VERSION}",
                    partial(seed_archive, items=size),
                    reuse=reuse,
                )
            )
            how = (
                f"reused (seeded earlier in {counts['seconds']} s; migrated in {counts.get('migrated', 0)} s)"
                if counts["reused"]
                else f"seeded in {counts['seconds']} s"
            )
            print(f"[{kind}] {counts['items']} items, {counts['deliveries']} deliveries: {how}", flush=True)
            laid = lay_work(url, now)
            print(f"  current work laid: {laid}", flush=True)
            runtimes.append(stack.enter_context(runtime(url)))
        results = measure(runtimes, only)
    pairs = [(label, a, b) for (label, a, _), (_l, b, _p) in zip(results[0], results[1], strict=True)]
    return flatness(kind, small, items, pairs, COLLECTED, what="periodic jobs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--flat-base", type=int, default=10_000)
    ap.add_argument("--db", default="postgres", help="sqlite, postgres or both comma-separated")
    ap.add_argument(
        "--fresh", action="store_true", help="throwaway databases instead of the kept seeded ones"
    )
    ap.add_argument("--only", help="time only the jobs whose label contains this")
    args = ap.parse_args()
    ok = all(
        [
            run(kind.strip(), args.items, args.flat_base, not args.fresh, args.only)
            for kind in args.db.split(",")
        ]
    )
    report(COLLECTED)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
