"""The maintained counts (table `counters`, kept by the triggers of migrations 0008, 0017 and 0025).

Reading them costs the number of (channel, state) pairs, not the number of deliveries: this
is what /metrics and the ops pages use instead of COUNT(*) over the ledger. On PostgreSQL the
triggers append deltas (see the migration for why); a read adds the pending deltas to the
counters in one statement, so it is exact for everything committed; a read that met a
backlog folds a bounded batch, and the periodic jobs fold the rest (`fold_batches`), so the
delta table stays short.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, text, union_all
from sqlalchemy.orm import Session

from publisher.store.db import Database, Flush
from publisher.store.models import Counter, CounterDelta

DELIVERY = "delivery"
ITEM = "item"
ATTEMPT = "attempt"
RELEASED = "released"
POLICY = "policy"
ALERT_NOTE = "alert_note"
ALERT_TRY = "alert_try"
# any constant of our own: one folder at a time, the others skip (their read stays exact)
_FOLD_LOCK = 0x70756263  # "pubc"

# How many deltas one transaction of the periodic fold moves: a short lock on a bounded set
FOLD_BATCH = 10_000
# The periodic fold stops after this many batches (500,000 deltas); the next run continues
FOLD_MAX_BATCHES = 50
# A read (a scrape, an ops page) that met this many pending deltas folds the oldest
# READ_FOLD_BATCH of them after it has read
READ_FOLD_AT = 500
READ_FOLD_BATCH = 1_000

# (deltas moved, counter rows changed); {where} limits the deltas taken to the oldest batch
_FOLD = (
    "WITH moved AS (DELETE FROM counter_deltas {where} RETURNING family, a, b, c, n, total), "
    "changed AS (INSERT INTO counters (family, a, b, c, n, total) "
    "SELECT family, a, b, c, sum(n), sum(total) FROM moved GROUP BY family, a, b, c "
    "ON CONFLICT (family, a, b, c) DO UPDATE "
    "SET n = counters.n + excluded.n, total = counters.total + excluded.total RETURNING 1) "
    "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM changed)"
)
_FOLD_ALL = text(_FOLD.format(where=""))
_FOLD_SOME = text(_FOLD.format(where="WHERE id IN (SELECT id FROM counter_deltas ORDER BY id LIMIT :limit)"))


@dataclass
class Counts:
    """One consistent read of every family."""

    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, state)
    items: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, state)
    # (channel, outcome) -> {bucket: (count, summed ms)}
    attempts: dict[tuple[str, str], dict[int, tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    released: dict[str, int] = field(default_factory=dict)  # type -> items the public sees
    # (publication year or '', '<validity>|<year of its change or ''>', withdrawn) -> policies
    policies: dict[tuple[str, str, bool], int] = field(default_factory=dict)
    alert_notes: dict[str, int] = field(default_factory=dict)  # status -> alert messages
    alert_tries: dict[tuple[str, str], int] = field(default_factory=dict)  # (target type, ok|error)
    pending: int = 0  # delta rows the read added (PostgreSQL's, not yet folded)

    def by_channel(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (channel, state), n in self.deliveries.items():
            if n:
                out[channel][state] = n
        return out


def read(session: Session, *families: str) -> Counts:
    """Every family, or only the ones named (the others stay empty)."""
    parts = [
        select(
            Counter.family, Counter.a, Counter.b, Counter.c, Counter.n, Counter.total, literal(0).label("k")
        ),
        select(
            CounterDelta.family,
            CounterDelta.a,
            CounterDelta.b,
            CounterDelta.c,
            CounterDelta.n,
            CounterDelta.total,
            literal(1).label("k"),
        ),
    ]
    if families:
        parts = [
            parts[0].where(Counter.family.in_(families)),
            parts[1].where(CounterDelta.family.in_(families)),
        ]
    u = union_all(*parts).subquery()
    rows = session.execute(
        select(
            u.c.family, u.c.a, u.c.b, u.c.c, func.sum(u.c.n), func.sum(u.c.total), func.sum(u.c.k)
        ).group_by(u.c.family, u.c.a, u.c.b, u.c.c)
    ).all()
    counts = Counts()
    for family, a, b, c, n, total, deltas in rows:
        counts.pending += int(deltas or 0)
        if family == DELIVERY:
            counts.deliveries[(a, b)] = int(n)
        elif family == ITEM:
            counts.items[(a, b)] = int(n)
        elif family == ATTEMPT:
            counts.attempts[(a, b)][int(c)] = (int(n), float(total or 0.0))
        elif family == RELEASED:
            counts.released[a] = int(n)
        elif family == POLICY:
            counts.policies[(a, b, bool(c))] = int(n)
        elif family == ALERT_NOTE:
            counts.alert_notes[a] = int(n)
        elif family == ALERT_TRY:
            counts.alert_tries[(a, b)] = int(n)
    return counts


def fold(db: Database) -> int:
    """Move PostgreSQL's pending deltas into the counters; the number of counter rows changed
    (0 on SQLite, whose triggers write the counters directly). Costs what changed since the
    last fold."""
    return _fold(db, None)[1]


def fold_batches(db: Database, batch: int = FOLD_BATCH, max_batches: int = FOLD_MAX_BATCHES) -> int:
    """The periodic jobs' fold, so the deltas never pile up when nobody scrapes /metrics or
    opens the ops pages: the oldest `batch` deltas per transaction, until fewer are left or
    after `max_batches`. Returns the deltas moved (0 on SQLite, or while another process folds)."""
    moved = 0
    for _ in range(max_batches):
        n = _fold(db, batch)[0]
        moved += n
        if n < batch:
            break
    return moved


def _fold(db: Database, limit: int | None) -> tuple[int, int]:
    """(deltas moved, counter rows changed); (0, 0) when another folder holds the lock."""
    if not db.postgres:
        return 0, 0
    with db.transaction(flush=Flush.LATER) as s:
        if not s.execute(select(func.pg_try_advisory_xact_lock(literal(_FOLD_LOCK)))).scalar_one():
            return 0, 0
        conn = s.connection()
        row = (conn.execute(_FOLD_ALL) if limit is None else conn.execute(_FOLD_SOME, {"limit": limit})).one()
        return int(row[0]), int(row[1])


def snapshot(db: Database) -> Counts:
    """Read, exact (the pending deltas added in): what /metrics and the ops pages call. Only
    when the read met READ_FOLD_AT deltas or more does it fold, the oldest READ_FOLD_BATCH:
    a page or scrape never pays a write transaction (four round trips and a lock) for a
    handful of deltas, and never moves a whole backlog (a burst of writes, a long time nobody
    looked) inside its own request — the periodic jobs fold the rest in batches."""
    with db.reader() as s:
        counts = read(s)
    if counts.pending >= READ_FOLD_AT:
        _fold(db, READ_FOLD_BATCH)
    return counts
