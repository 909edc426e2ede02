"""Approvals per second, each writing its frozen version, audit event and 4 delivery rows,
beside a baseline of plain INSERTs of the same rows in the same run (issue #2).

    .venv/bin/python bench/approve.py [--items 200] [--rounds 7] [--db sqlite,postgres]
    BENCH_DB_TAG=me .venv/bin/python bench/approve.py --db postgres --seeded 1000000

With --seeded ITEMS the same rounds also run, interleaved, on bench/pages.py's kept seeded
database of that size (issue 21: an approval must cost the same on a city's archive): both
sides are printed with the ratio big/empty.

Target: the approval path at least 0.5x the bare-INSERT baseline. The ratio printed is the
median of per-round ratios: each round times the approvals and the baseline back to back.

A third figure, for reference: the six writes an approval needs (read the item, take the next
index number, insert the version, insert the deliveries, update the item, append the audit
event) as six separate bare statements with no logic in between. On SQLite, which runs them
that way, it is the ceiling of the approval path; on PostgreSQL the approval runs four
statements (version, deliveries and item update are one, `publisher/store/outbox.py`) and passes it.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection, bindparam, insert, select, text, update  # noqa: E402

import bench.pages as pages  # noqa: E402
from bench._common import Row, median, report, scratch_database  # noqa: E402
from publisher.editorial.service import Service  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.store import auditlog  # noqa: E402
from publisher.store.db import Database  # noqa: E402
from publisher.store.models import AuditEvent, AuditHead, Delivery, Item, ItemVersion  # noqa: E402

CHANNELS = {k: {"enabled": True} for k in ("rss", "cms", "wechat", "cityplatform")}


def prepare(svc: Service, editor, n: int, tag: str) -> list[str]:  # type: ignore[no-untyped-def]
    uids = []
    for i in range(n):
        item = svc.create_item(
            editor,
            {
                "type": "policy",
                "title": f"基准测试{tag}{i}",
                "issue_date": "2026-11-20",
                "subject": "财政\\预算",
                "description": "基准测试。",
                "body_html": "<p>" + "正文。" * 200 + "</p>",
            },
        )
        uids.append(item.uid)
    with svc.db.transaction() as s:
        s.execute(update(Item).where(Item.uid.in_(uids)).values(state="awaiting_approval"))
    return uids


def approve_all(svc: Service, approver, uids: list[str]) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for uid in uids:
        svc.approve(approver, uid)
    return len(uids) / (time.perf_counter() - t0)


_VERSION = insert(ItemVersion).returning(ItemVersion.id)
_DELIVERIES = insert(Delivery)
_AUDIT = insert(AuditEvent)


def _version_and_deliveries(
    conn: Connection,
    item_id: int,
    content: dict,
    author: int,  # type: ignore[type-arg]
    now: datetime,
    tag: str,
) -> None:
    vid = conn.execute(
        _VERSION,
        dict(
            item_id=item_id,
            number=1,
            content=content,
            content_hash="0" * 64,
            reason="publish",
            created_by=author,
            created_at=now,
        ),
    ).scalar_one()
    conn.execute(
        _DELIVERIES,
        [
            dict(
                item_id=item_id,
                version_id=vid,
                channel=c,
                operation="publish",
                state="queued",
                key=f"{tag}{item_id}.{c}",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for c in CHANNELS
        ],
    )


def _audit_event(conn: Connection, seq: int, now: datetime) -> None:
    conn.execute(
        _AUDIT, dict(seq=seq, at=now, actor="bench", action="approve", prev_hash="0" * 64, hash="0" * 64)
    )


def bare_inserts(db: Database, item_ids: list[int], content: dict, author: int) -> float:  # type: ignore[type-arg]
    """The same rows an approval writes, as plain INSERTs (prebuilt Core statements on the
    connection, the fastest plain way), one transaction per item. The audit seqs continue
    the chain's, counted here (the head follows each insert, by trigger, as it does for us)."""
    now = datetime.now(UTC)
    with db.reader() as s:
        seq = s.execute(select(AuditHead.seq)).scalar_one()
    t0 = time.perf_counter()
    for item_id in item_ids:
        seq += 1
        with db.transaction() as s:
            conn = s.connection()
            _version_and_deliveries(conn, item_id, content, author, now, "bare")
            _audit_event(conn, seq, now)
    return len(item_ids) / (time.perf_counter() - t0)


_ITEM = select(*Item.__table__.c).where(Item.__table__.c.id == bindparam("id"))
_COUNTER = text(
    "UPDATE index_counters SET last_serial = last_serial + 1 WHERE agency = 'BENCH' AND year = 2026 "
    "RETURNING last_serial"
)
_FIRST_COUNTER = text(
    "INSERT INTO index_counters (agency, year, last_serial) VALUES ('BENCH', 2026, 1) RETURNING last_serial"
)
STATEMENTS = 6
_RELEASE = (
    update(Item)
    .where(Item.id == bindparam("b_id"))
    .values(
        state="published",
        index_number=bindparam("b_number"),
        live_version=1,
        published_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
)


def bare_statements(db: Database, item_ids: list[int], content: dict, author: int) -> float:  # type: ignore[type-arg]
    """The six writes of an approval as separate bare statements: no checks, hashing or ORM."""
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for item_id in item_ids:
        with db.transaction() as s:
            conn = s.connection()
            conn.execute(_ITEM, {"id": item_id}).one()
            serial = conn.execute(_COUNTER).scalar_one_or_none() or conn.execute(_FIRST_COUNTER).scalar_one()
            _version_and_deliveries(conn, item_id, content, author, now, "separate")
            conn.execute(_RELEASE, {"b_id": item_id, "b_number": f"BENCH-2026-{serial}", "b_now": now})
            conn.execute(
                auditlog.APPEND[conn.dialect.name],
                dict(
                    at=now,
                    actor="bench",
                    action="approve",
                    item_uid=None,
                    version_hash=None,
                    reason=None,
                    data=None,
                    pre='{"seq":',
                    post="}",
                ),
            )
    return len(item_ids) / (time.perf_counter() - t0)


def bare_rows(svc: Service, editor, n: int, tag: str) -> tuple[list[int], dict]:  # type: ignore[no-untyped-def,type-arg]
    uids = prepare(svc, editor, n, tag)
    with svc.db.reader() as s:
        rows = s.query(Item.id, Item.content).filter(Item.uid.in_(uids)).all()
    return [r.id for r in rows], rows[0].content


Rates = dict[str, list[float]]


class Side:
    """One database the rounds run on: its service, users and each round's prepared rows."""

    def __init__(self, url: str, items: int, rounds: int) -> None:
        settings = Settings(database={"url": url}, channels=CHANNELS)
        self.db = Database(url)
        self.svc = Service(self.db, settings)
        # a kept seeded database is used again by later runs: names of this run's own
        run = uuid.uuid4().hex[:6]
        self.editor, _ = self.svc.add_user(f"bench-editor-{run}", "editor")
        self.approver, _ = self.svc.add_user(f"bench-approver-{run}", "approver")
        self.inputs = [
            (
                prepare(self.svc, self.editor, items, f"a{r}-{run}-"),
                bare_rows(self.svc, self.editor, items, f"b{r}-{run}-"),
                bare_rows(self.svc, self.editor, items, f"s{r}-{run}-"),
            )
            for r in range(rounds)
        ]
        self.rates: Rates = {"ours": [], "base": [], "separate": []}

    def round(self, r: int) -> None:
        uids, (base_ids, content), (separate_ids, _) = self.inputs[r]
        runs = [
            ("ours", partial(approve_all, self.svc, self.approver, uids)),
            ("base", partial(bare_inserts, self.db, base_ids, content, self.editor.id)),
            ("separate", partial(bare_statements, self.db, separate_ids, content, self.editor.id)),
        ]
        for name, fn in runs[r % 3 :] + runs[: r % 3]:
            self.rates[name].append(fn())

    def figures(self) -> tuple[float, float, float, float, float]:
        """Rates (median over rounds) of ours, the baseline and the bare statements, and the
        median of the per-round ratios ours/baseline and bare/baseline."""
        rates = self.rates
        ratio = median([o / b for o, b in zip(rates["ours"], rates["base"], strict=True)])
        ceiling = median([s / b for s, b in zip(rates["separate"], rates["base"], strict=True)])
        return median(rates["ours"]), median(rates["base"]), median(rates["separate"]), ratio, ceiling


def run(
    kind: str, items: int, rounds: int, seeded: int = 0
) -> list[tuple[float, float, float, float, float]]:
    """The figures on a scratch database, and with `seeded` also on bench/pages.py's kept
    seeded database of that many items (BENCH_DB_TAG: a private copy), the two interleaved
    round by round. The three runs of a side go back to back in each round, in a rotating
    order, so that a ratio compares runs that met the same load on this shared machine; every
    round's rows are created before any timing starts."""
    with ExitStack() as stack:
        urls = [stack.enter_context(scratch_database(kind))]
        if seeded:
            url, counts = stack.enter_context(pages.archive(kind, seeded))
            print(pages._describe(kind, counts), flush=True)
            urls.append(url)
        sides = [Side(url, items, rounds) for url in urls]
        try:
            for r in range(rounds):
                for side in sides if r % 2 == 0 else reversed(sides):
                    side.round(r)
        finally:
            for side in sides:
                side.db.dispose()
    return [side.figures() for side in sides]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=200, help="approvals per round and kind")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument(
        "--seeded",
        type=int,
        default=0,
        metavar="ITEMS",
        help="also run on bench/pages.py's kept database of ITEMS items (seeded once, BENCH_DB_TAG "
        "for a private copy) and print both sides with their ratio",
    )
    args = ap.parse_args()
    rows: list[Row] = []
    for kind in args.db.split(","):
        sides = run(kind, args.items, args.rounds, args.seeded)
        ours, base, separate, ratio, ceiling = sides[0]
        rows.append(
            (
                f"approvals/s, {kind} (version + audit + 4 deliveries)",
                f"{ours:.0f}",
                f"{base:.0f} (bare INSERTs)",
                ratio,
                ">= 0.5x",
            )
        )
        rows.append(
            (
                f"  the approval's {STATEMENTS} writes as bare statements, {kind}",
                f"{separate:.0f}",
                f"{base:.0f} (bare INSERTs)",
                ceiling,
                "(reference)",
            )
        )
        print(
            f"{kind}: approve {ours:.0f}/s, bare inserts {base:.0f}/s, the {STATEMENTS} writes bare "
            f"{separate:.0f}/s; median per-round ratios {ratio:.2f}x and {ceiling:.2f}x",
            flush=True,
        )
        if len(sides) == 2:
            big = sides[1]
            size = f"{args.seeded:,} items"
            print(f"\n[{kind}] the same rounds on an empty database and on {size}, interleaved")
            print(f"{'figure':<40} | {'empty':>8} | {size:>16} | ratio")
            for label, a, b in (
                ("approvals/s", ours, big[0]),
                ("bare INSERTs/s", base, big[1]),
                (f"the {STATEMENTS} writes bare/s", separate, big[2]),
                ("approvals / bare INSERTs (x)", ratio, big[3]),
            ):
                print(f"{label:<40} | {a:8.2f} | {b:16.2f} | {b / a:5.2f}")
            rows.append(
                (
                    f"approvals/s, {kind}, on {size}",
                    f"{big[0]:.0f}",
                    f"{ours:.0f} (empty database)",
                    big[0] / ours,
                    "(hold: ~1.0x)",
                )
            )
            rows.append(
                (
                    f"  approvals / bare INSERTs, {kind}, on {size}",
                    f"{big[3]:.2f}x",
                    f"{ratio:.2f}x (empty database)",
                    big[3] / ratio,
                    "(hold: ~1.0x)",
                )
            )
    report(rows)


if __name__ == "__main__":
    main()
