"""Page, API and /metrics response times against the size of the archive.

    .venv/bin/python bench/pages.py                                  # SQLite, 10,000 items
    .venv/bin/python bench/pages.py --db sqlite --items 100000        # + flatness against 10,000
    .venv/bin/python bench/pages.py --db postgres --items 200000      # PostgreSQL, the same
    .venv/bin/python bench/pages.py --db postgres --items 1000000          # a city's archive
    .venv/bin/python bench/pages.py --fresh --items 2000             # throwaway databases

The store is seeded once per size and kept (PostgreSQL database `bench_pages_<items>_v2`,
SQLite file under BENCH_DATA_DIR or the temp dir); a later run only migrates it to the
current schema, and prints how long seeding took when it happened. Seeding writes with COPY on
PostgreSQL (executemany on SQLite): items of every type (mostly published), one frozen version
each, five deliveries per item (rss, cms, wechat, cityplatform, a webhook subscriber; about
2 % failed, some queued, held or retrying), one attempt per sent delivery and four audit events
per item — 1,000,000 items make 5,000,000 deliveries.

With --items above --flat-base (10,000), both sizes are served at once (two uvicorn servers
in this process) and each page's requests alternate between them round by round, so a load
change on the shared machine falls on both sides of the flatness ratio alike. Tables: median
and p95 per page beside /healthz of the same server (target: p95 < 200 ms), then each page's
median at the large size over its median at 10,000 (target: <= 1.5x). The periodic jobs have
their own bench, bench/jobs.py: it lays the same due work on both sizes, where this archive's
queued, retrying and held deliveries grow with it (2 % of 5,000,000 is work, not history).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import insert, select, text, update  # noqa: E402

from bench._common import Row, flatness, report, seeded_database  # noqa: E402
from publisher.domain.ids import hash_token  # noqa: E402
from publisher.editorial.views import content_hash  # noqa: E402
from publisher.runtime import Runtime, build_runtime  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.store.db import Database  # noqa: E402
from publisher.store.models import Attempt, AuditEvent, AuditHead, Delivery, Item, ItemVersion, User  # noqa: E402
from publisher.web import create_app  # noqa: E402

CHANNELS = ("rss", "cms", "wechat", "cityplatform", "webhook.hooks")
TYPES = ("policy", "interpretation", "notice", "fee_change", "consultation", "procurement_result")
PASSWORD = "bench-password"
TOKEN = "bench-token-for-the-api-list"
TARGET_MS = 200.0


def content(n: int, item_type: str) -> dict[str, Any]:
    return {
        "type": item_type,
        "title": f"关于第{n}号财政事项的通知（基准）",
        "short_title": None,
        "ref": f"bench-{n}",
        "issuing_body": "上海市财政局",
        "issue_date": "2026-03-01",
        "doc_number": f"沪财预〔2026〕{n + 1}号",
        "index_number": f"AB1900010-2026-{n + 1:05d}",
        "subject": "财政\\预算",
        "disclosure": "主动公开",
        "scope": "面向社会",
        "validity": "有效",
        "classified": "非涉密",
        "keywords": ["财政", "预算"],
        "description": "基准测试数据。",
        "body_html": "<p>正文段落。</p>" * 20,
        "release_group": None,
        "interprets": None,
        "abolishes": [],
        "publish_at": None,
        "formed_at": None,
        "cover_url": None,
        "attachments": [],
        "catalogue": None,
        "effective_date": None,
        "changes": None,
        "procurement": None,
        "consultation": None,
    }


def _state(roll: float) -> str:
    if roll < 0.02:
        return "failed"
    if roll < 0.025:
        return "held"
    if roll < 0.03:
        return "retry_wait"
    if roll < 0.035:
        return "queued"
    return "delivered"


class _Writer:
    """Bulk rows into one table: COPY on PostgreSQL (an order of magnitude faster than
    executemany at a million rows), executemany on SQLite. Ids are given, not generated, so
    one pass needs no RETURNING round trip; the sequences are set once at the end."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.dialect != "postgresql":
            self.conn.execute(insert(table), rows)
            return
        columns = list(rows[0])
        raw = self.conn.connection.dbapi_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_pg_value(row[c]) for c in columns])


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # the store keeps naive UTC
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def seed(url: str, items: int, per_item: int) -> dict[str, Any]:
    rng = random.Random(7)
    db = Database(url)
    dialect = db.engine.dialect.name
    now = datetime(2026, 6, 1, tzinfo=UTC)  # fixed, so a reused database matches a fresh one
    started = time.perf_counter()
    from publisher.editorial.auth import hash_password

    with db.transaction() as s:
        uid_user = s.execute(
            insert(User)
            .values(
                name="bench",
                role="admin",
                token_hash=hash_token(TOKEN),
                password_hash=hash_password(PASSWORD),
                active=True,
                created_at=now,
            )
            .returning(User.id)
        ).scalar_one()
    batch = 5000
    audit_seq = 0
    delivery_id = 0
    attempt_id = 0
    for lo in range(0, items, batch):
        hi = min(items, lo + batch)
        rows, versions, deliveries, attempts, events = [], [], [], [], []
        for n in range(lo, hi):
            t = TYPES[n % len(TYPES)]
            c = content(n, t)
            at = now - timedelta(minutes=(items - n) * 3)
            live = n % 200 != 0
            uid = f"01bench{n:019d}"
            item_id = n + 1
            rows.append(
                dict(
                    id=item_id,
                    uid=uid,
                    ref=c["ref"],
                    type=t,
                    state="published" if live else "draft",
                    title=c["title"],
                    content=c,
                    index_number=c["index_number"] if live else None,
                    validity="有效",
                    live_version=1 if live else None,
                    published_at=at if live else None,
                    created_by=uid_user,
                    created_at=at,
                    updated_at=at,
                )
            )
            for action in ("create", "submit", "review", "approve")[: 4 if live else 1]:
                audit_seq += 1
                events.append(
                    dict(
                        id=audit_seq,
                        seq=audit_seq,
                        at=at,
                        actor="bench",
                        action=action,
                        item_uid=uid,
                        prev_hash="0" * 64,
                        hash=f"{audit_seq:064d}",
                    )
                )
            if not live:
                continue
            versions.append(
                dict(
                    id=item_id,
                    item_id=item_id,
                    number=1,
                    content=c,
                    content_hash=content_hash(c),
                    reason="publish",
                    created_by=uid_user,
                    created_at=at,
                )
            )
            planned = [(ch, "publish", _state(rng.random())) for ch in CHANNELS[:per_item]]
            if n % 40 == 1:  # a corrected version went out to rss too
                planned.append(("rss", "update", "delivered"))
            for channel, operation, state in planned:
                delivery_id += 1
                done = at + timedelta(seconds=2 if operation == "publish" else 3)
                deliveries.append(
                    dict(
                        id=delivery_id,
                        item_id=item_id,
                        version_id=item_id,
                        channel=channel,
                        operation=operation,
                        state=state,
                        key=f"{uid}.v1.{channel}.{operation}",
                        attempts=0 if state == "queued" else 1,
                        next_attempt_at=at,
                        created_at=at,
                        updated_at=done,
                        delivered_at=done if state == "delivered" else None,
                        url=f"https://example.gov.cn/{channel}/{uid}" if state == "delivered" else None,
                        last_error="HTTP 400 rejected" if state == "failed" else None,
                    )
                )
                if state == "queued":
                    continue
                attempt_id += 1
                attempts.append(
                    dict(
                        id=attempt_id,
                        delivery_id=delivery_id,
                        number=1,
                        started_at=at,
                        duration_ms=rng.lognormvariate(3.5, 0.6),
                        outcome="permanent"
                        if state == "failed"
                        else "transient"
                        if state == "retry_wait"
                        else "success",
                        http_status=400 if state == "failed" else 200,
                        error="HTTP 400" if state == "failed" else None,
                        worker="bench",
                    )
                )
        with db.transaction() as s:
            w = _Writer(s.connection(), dialect)
            w.write(Item, rows)
            w.write(ItemVersion, versions)
            w.write(Delivery, deliveries)
            w.write(Attempt, attempts)
            if dialect == "postgresql":
                # the audit head's row trigger updates one row per event; 20,000 updates of one
                # row in one transaction walk an ever longer version chain (the seeding went
                # quadratic: 55 s for 10,000 items). The head is set once at the end instead.
                # Written last: the counters' triggers on the other tables must fire.
                s.execute(text("SET LOCAL session_replication_role = replica"))
            w.write(AuditEvent, events)
        if hi % 50_000 == 0 or hi == items:
            print(f"  seeded {hi} items ({time.perf_counter() - started:.0f} s)", flush=True)
    with db.transaction() as s:
        s.execute(update(AuditHead).values(seq=audit_seq, hash=f"{audit_seq:064d}"))
        if dialect == "postgresql":
            for table in ("items", "item_versions", "deliveries", "attempts", "audit_events"):
                s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
    counts = {"items": items, "deliveries": delivery_id, "attempts": attempt_id, "audit_events": audit_seq}
    if dialect == "postgresql":
        # autovacuum would analyse after a bulk load like this within a minute; do it now so the
        # planner is not left guessing on empty-table statistics (VACUUM also sets the
        # visibility map, which index-only scans rely on)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _samples(url: str) -> tuple[str, str]:
    db = Database(url)
    try:
        with db.reader() as s:
            sample = s.execute(
                select(Item.uid).where(Item.state == "published").order_by(Item.id.desc()).limit(1)
            ).scalar_one()
            failed = s.execute(
                select(Item.uid)
                .join(Delivery, Delivery.item_id == Item.id)
                .where(Delivery.state == "failed")
                .order_by(Delivery.id.desc())
                .limit(1)
            ).scalar_one()
        return sample, failed
    finally:
        db.dispose()


SEED_VERSION = 2  # bump when the seeded shape changes, so an old reusable database is reseeded


class _Beating:
    """Stands in for the executor so /readyz measures its real checks (no deliveries are sent)."""

    @property
    def last_sweep(self) -> float:
        return time.time()

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def wake(self, delivery_ids: list[int]) -> None: ...


def serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def measure(client: httpx.Client, path: str, rounds: int, *, warm: bool = True) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/api/") else {}
    for _ in range(3 if warm else 0):
        client.get(path, headers=headers)
    times = []
    status = 0
    for _ in range(rounds):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        status = r.status_code
    return times, status


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


COLLECTED: list[Row] = []


def pages_of(url: str) -> list[tuple[str, str]]:
    uid, failed = _samples(url)
    return [
        ("/healthz (baseline)", "/healthz"),
        ("login page", "/app/login"),
        ("item list", "/app/items"),
        ("item list: search", "/app/items?q=第1234号"),
        (
            "item list: filters",
            "/app/items?type=policy&state=published&validity=有效&date_field=published&date_from=2026-01-01",
        ),
        ("item list: delivery status", "/app/items?overall=partially_published"),
        ("item list: page 150", "/app/items?page=150"),
        ("API item list", "/api/items?limit=50"),
        ("item page", f"/app/items/{uid}"),
        ("item editor", f"/app/items/{uid}/edit"),
        ("preview (3 channels)", f"/app/items/{uid}/preview"),
        ("withdraw confirmation", f"/app/items/{uid}/withdraw"),
        ("ops dashboard", "/app/ops"),
        ("channels", "/app/ops/channels"),
        ("item timeline", f"/app/ops/items/{failed}"),
        ("failed queue", "/app/ops/failed"),
        ("audit log", "/app/ops/audit"),
        ("audit search", "/app/ops/audit?q=第1234号&action=approve"),
        ("alerts", "/app/ops/alerts"),
        ("retry queue", "/app/ops/retrying"),
        ("work queues (/app/)", "/app/"),
        ("approval confirmation", f"/app/items/{uid}/approve"),
        ("annual report form", "/app/reports/annual/2025"),
        ("public home (/)", "/"),
        ("public list", "/items"),
        ("public item", f"/items/{uid}"),
        ("annual report", "/reports/annual/2026"),
        ("/metrics", "/metrics"),
        ("/readyz", "/readyz"),
    ]


Timing = tuple[str, int, float, float]  # label, status, median ms, p95 ms


CHANNEL_SETTINGS = {
    "rss": {"enabled": True},
    "cms": {
        "enabled": True,
        "base_url": "http://127.0.0.1:9",
        "user": "bench",
        "app_password_env": "PUBLISHER_BENCH_UNUSED_SECRET",
    },
    "wechat": {
        "enabled": True,
        "appid": "wx0000000000000000",
        "secret_env": "PUBLISHER_BENCH_UNUSED_SECRET",
        "api_base_url": "http://127.0.0.1:9/cgi-bin/",
    },
}


@contextmanager
def site(url: str) -> Iterator[tuple[httpx.Client, list[tuple[str, str]], Runtime]]:
    """A server on the seeded database and a logged-in client; the pages to time there."""
    pages = pages_of(url)
    db = Database(url)
    try:  # the API's bearer token (a reused database may predate it)
        with db.transaction() as s:
            s.execute(update(User).where(User.name == "bench").values(token_hash=hash_token(TOKEN)))
    finally:
        db.dispose()
    # the channels are never called (the executor is a stand-in), but the settings check wants
    # their secret variables set
    os.environ.setdefault("PUBLISHER_BENCH_UNUSED_SECRET", "unused")
    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(
            Settings(
                data_dir=Path(tmp),
                database={"url": url},
                channels=CHANNEL_SETTINGS,
                routing={t: ["rss", "cms", "wechat"] for t in TYPES},
            )
        )
        rt.executor = _Beating()
        base, server, thread = serve(create_app(rt))
        try:
            # a fresh connection per request: on a kept-alive localhost connection every answer
            # waits ~40 ms for a delayed ACK (uvicorn writes headers and body separately), which
            # would hide the server's own time behind a constant
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(base_url=base, timeout=60, limits=limits) as client:
                page = client.get("/app/login").text
                token = page.split('name="csrf" value="')[1].split('"')[0]
                r = client.post("/app/login", data={"name": "bench", "password": PASSWORD, "csrf": token})
                assert r.status_code in (200, 303), r.text
                yield client, pages, rt
        finally:
            server.should_exit = True
            thread.join(10)
            rt.close()


def measure_sites(
    sites: list[tuple[httpx.Client, list[tuple[str, str]], Runtime]], rounds: int
) -> list[list[Timing]]:
    """Time every page on every site, the sites' requests interleaved round by round: on a
    shared machine the load changes by the minute, and interleaving puts the same load on
    both sides of a flatness ratio."""
    out: list[list[Timing]] = [[] for _ in sites]
    for index in range(len(sites[0][1])):
        times: list[list[float]] = [[] for _ in sites]
        status = [0] * len(sites)
        for client, pages, _rt in sites:
            measure(client, pages[index][1], 0)  # warm-up
        for _ in range(rounds):
            for k, (client, pages, _rt) in enumerate(sites):
                spent, status[k] = measure(client, pages[index][1], 1, warm=False)
                times[k].extend(spent)
        for k, (_client, pages, _rt) in enumerate(sites):
            out[k].append((pages[index][0], status[k], statistics.median(times[k]), p95(times[k])))
    return out


def _describe(kind: str, counts: dict[str, Any]) -> str:
    how = (
        f"reused (seeded earlier in {counts['seconds']} s; migrated in {counts.get('migrated', 0)} s)"
        if counts["reused"]
        else f"seeded in {counts['seconds']} s"
    )
    return (
        f"[{kind}] {counts['items']} items, {counts['deliveries']} deliveries, {counts['attempts']} attempts, "
        f"{counts['audit_events']} audit events: {how}"
    )


def print_table(kind: str, items: int, rows: list[Timing]) -> bool:
    base_median = rows[0][2]
    width = max(len(r[0]) for r in rows)
    print(f"{'page'.ljust(width)} | status | median ms | p95 ms | x baseline | < {TARGET_MS:.0f} ms")
    print("-" * (width + 55))
    ok = True
    for label, status, med, high in rows:
        good = high < TARGET_MS and status == 200
        ok = ok and good
        print(
            f"{label.ljust(width)} | {status:6d} | {med:9.1f} | {high:6.1f} | {med / base_median:10.1f} | "
            f"{'yes' if good else 'NO'}"
        )
        if label != rows[0][0]:
            COLLECTED.append(
                (
                    f"{label} ({kind}, {items:,} items), p95 ms",
                    f"{high:.1f} (median {med:.1f})",
                    f"{base_median:.1f} ({rows[0][0]} median)",
                    "",
                    f"< {TARGET_MS:.0f} ms",
                )
            )
    return ok


def print_flatness(
    kind: str, small: int, large: int, low: list[Timing], high: list[Timing], what: str = "pages"
) -> bool:
    """Each page's (or job's) median at `large` items against its median at `small`, from one
    run; the pages' first row is the baseline."""
    pairs = [(label, a, b) for (label, _s, a, _p), (_l, _s2, b, _p2) in zip(low, high, strict=True)]
    baseline = low[0][0] if what == "pages" else None
    return flatness(kind, small, large, pairs, COLLECTED, what=what, baseline=baseline)


def archive(kind: str, items: int, *, reuse: bool = True) -> Any:
    """The seeded archive of `items` items (`bench_pages_<items>_v<SEED_VERSION>`, kept unless
    not `reuse`): a context manager giving (url, counts); other benches time on it too."""
    return seeded_database(
        kind,
        f"bench_pages_{items}_v{SEED_VERSION}",
        partial(seed, items=items, per_item=len(CHANNELS)),
        reuse=reuse,
    )


def run(kind: str, items: int, rounds: int, reuse: bool, flat_base: int) -> bool:
    sizes = [items] if items <= flat_base else [flat_base, items]
    ok = True
    with ExitStack() as stack:
        sites = []
        for size in sizes:
            url, counts = stack.enter_context(archive(kind, size, reuse=reuse))
            print("\n" + _describe(kind, counts), flush=True)
            sites.append(stack.enter_context(site(url)))
        results = measure_sites(sites, rounds)
        for size, rows in zip(sizes, results, strict=True):
            print(f"\n[{kind}] {size:,} items")
            ok = print_table(kind, size, rows) and ok
        if len(results) == 2:
            ok = print_flatness(kind, flat_base, items, results[0], results[1]) and ok
        sys.stdout.flush()
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--db", default="sqlite", help="sqlite, postgres or both comma-separated")
    ap.add_argument(
        "--fresh",
        action="store_true",
        help="seed throwaway databases instead of reusing (or creating) the named seeded ones",
    )
    ap.add_argument(
        "--flat-base",
        type=int,
        default=10_000,
        help="with --items above this, also time a database of this size and print the flatness table",
    )
    args = ap.parse_args()
    ok = all(
        [
            run(kind.strip(), args.items, args.rounds, not args.fresh, args.flat_base)
            for kind in args.db.split(",")
        ]
    )
    report(COLLECTED)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
