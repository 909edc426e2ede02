"""The maintained counts (migration's triggers, `publisher.store.counters`) always equal a fresh
COUNT(*) over the tables, whatever mix of inserts, state changes and deletes came before, on
SQLite and PostgreSQL; and the migration backfills them from rows that existed before it."""

from __future__ import annotations

import bisect
import uuid
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update

from publisher.domain.clock import SHANGHAI
from publisher.observe.metrics import LATENCY_BUCKETS
from publisher.runtime import Runtime
from publisher.store import counters
from publisher.store.db import Database
from publisher.store.models import Attempt, Delivery, Item, ItemVersion
from tests.conftest import Team, backfilled
from tests.rows import admin_user, delivery_row, item_row, published_version

CHANNELS = ("rss", "cms", "wechat")
STATES = ("queued", "sending", "retry_wait", "held", "accepted", "delivered", "failed", "superseded")
ITEM_STATES = ("draft", "in_review", "approved", "published", "withdrawn")
TYPES = ("policy", "notice")
# durations on and around the bucket bounds, where an off-by-one would show
DURATIONS = st.sampled_from([0.1, 4.9, 5.0, 5.1, 10.0, 99.9, 100.0, 2500.0, 30000.0, 30000.5, 99999.0])
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PUBLISHED = [
    None,
    datetime(2025, 12, 31, 15, 59, 59, 999_900, tzinfo=UTC),
    datetime(2025, 12, 31, 16, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC),
]

op = st.one_of(
    st.tuples(st.just("items"), st.integers(1, 3), st.sampled_from(TYPES), st.sampled_from(ITEM_STATES)),
    st.tuples(st.just("deliveries"), st.integers(1, 4), st.sampled_from(CHANNELS), st.sampled_from(STATES)),
    # one UPDATE over several rows (a claim, a release of held deliveries), and over one
    st.tuples(st.just("move"), st.integers(1, 5), st.integers(0, 4), st.sampled_from(STATES)),
    st.tuples(st.just("move_item"), st.integers(1, 3), st.integers(0, 2), st.sampled_from(ITEM_STATES)),
    st.tuples(st.just("attempts"), st.integers(1, 3), st.integers(0, 6), DURATIONS),
    st.tuples(st.just("delete"), st.integers(0, 6)),
    st.tuples(st.just("touch"), st.integers(1, 5)),  # an UPDATE that leaves every state alone
    st.tuples(st.just("fold")),
    # what the public-count families (migration 0017) follow: publication around Shanghai's new
    # year (16:00 UTC; the fraction that rounds up in SQLite), validity and its change date
    st.tuples(st.just("publish"), st.integers(1, 3), st.integers(0, 2), st.sampled_from(PUBLISHED)),
    st.tuples(
        st.just("validity"),
        st.integers(1, 3),
        st.integers(0, 2),
        st.sampled_from(["有效", "已废止", "已失效", "已修订"]),
        st.sampled_from([None, "2025-12-31", "2026-01-01"]),
    ),
)


def _user(db: Database) -> int:
    return admin_user(db, "counter", NOW)


def _apply(db: Database, user: int, step: tuple) -> None:  # type: ignore[type-arg]
    kind = step[0]
    if kind == "fold":
        counters.fold(db)
        return
    with db.transaction() as s:
        if kind == "items":
            _, k, item_type, state = step
            s.execute(
                insert(Item),
                [item_row(user, NOW, type=item_type, state=state, title="计数") for _ in range(k)],
            )
        elif kind == "deliveries":
            _, k, channel, state = step
            item = s.execute(select(Item.id).order_by(Item.id.desc()).limit(1)).scalar_one_or_none()
            if item is None:
                return
            version = s.execute(select(ItemVersion.id).where(ItemVersion.item_id == item)).scalar()
            if version is None:
                version = published_version(s, item, user, NOW)
            # (version, channel, operation) is unique
            s.execute(
                insert(Delivery),
                [
                    delivery_row(item, version, channel, state, NOW, operation=uuid.uuid4().hex[:16])
                    for _ in range(k)
                ],
            )
        elif kind == "move":
            _, modulo, rest, state = step
            s.execute(update(Delivery).where(Delivery.id % modulo == rest % modulo).values(state=state))
        elif kind == "move_item":
            _, modulo, rest, state = step
            s.execute(update(Item).where(Item.id % modulo == rest % modulo).values(state=state))
        elif kind == "publish":
            _, modulo, rest, at = step
            s.execute(
                update(Item)
                .where(Item.id % modulo == rest % modulo)
                .values(published_at=at, live_version=None if at is None else 1)
            )
        elif kind == "validity":
            _, modulo, rest, validity, changed = step
            s.execute(
                update(Item)
                .where(Item.id % modulo == rest % modulo)
                .values(validity=validity, validity_changed_on=changed)
            )
        elif kind == "touch":
            _, modulo = step
            s.execute(update(Delivery).where(Delivery.id % modulo == 0).values(updated_at=NOW))
        elif kind == "attempts":
            _, k, offset, duration = step
            ids = s.execute(select(Delivery.id).order_by(Delivery.id).offset(offset).limit(k)).scalars().all()
            if ids:
                s.execute(
                    insert(Attempt),
                    [
                        dict(delivery_id=d, number=1, started_at=NOW, duration_ms=duration, outcome="success")
                        for d in ids
                    ],
                )
        elif kind == "delete":
            _, offset = step
            target = s.execute(select(Delivery.id).order_by(Delivery.id).offset(offset).limit(1)).scalar()
            if target is not None:
                s.execute(delete(Attempt).where(Attempt.delivery_id == target))
                s.execute(
                    update(Delivery)
                    .where(Delivery.after_delivery_id == target)
                    .values(after_delivery_id=None)
                )
                s.execute(delete(Delivery).where(Delivery.id == target))


def _truth(db: Database) -> counters.Counts:
    """The counts as COUNT(*) over the tables, the buckets placed by metrics' own bounds."""
    truth = counters.Counts()
    with db.reader() as s:
        for channel, state, n in s.execute(
            select(Delivery.channel, Delivery.state, func.count()).group_by(Delivery.channel, Delivery.state)
        ):
            truth.deliveries[(channel, state)] = n
        for item_type, state, n in s.execute(
            select(Item.type, Item.state, func.count()).group_by(Item.type, Item.state)
        ):
            truth.items[(item_type, state)] = n
        for item_type, state, live, published, validity, changed in s.execute(
            select(
                Item.type,
                Item.state,
                Item.live_version,
                Item.published_at,
                Item.validity,
                Item.validity_changed_on,
            )
        ):
            if live is not None and published is not None and state != "withdrawn":
                truth.released[item_type] = truth.released.get(item_type, 0) + 1
            if item_type == "policy":
                year = str(published.astimezone(SHANGHAI).year) if published is not None else ""
                key = (year, f"{validity}|{(changed or '')[:4]}", state == "withdrawn")
                truth.policies[key] = truth.policies.get(key, 0) + 1
        bounds = [b * 1000.0 for b in LATENCY_BUCKETS]
        tally: Tally[tuple[str, str, int]] = Tally()
        sums: dict[tuple[str, str, int], float] = {}
        for channel, outcome, duration in s.execute(
            select(Delivery.channel, Attempt.outcome, Attempt.duration_ms).join(
                Delivery, Delivery.id == Attempt.delivery_id
            )
        ):
            key = (channel, outcome, bisect.bisect_left(bounds, duration))
            tally[key] += 1
            sums[key] = sums.get(key, 0.0) + duration
        for (channel, outcome, bucket), n in tally.items():
            truth.attempts[(channel, outcome)][bucket] = (n, sums[(channel, outcome, bucket)])
    return truth


def _assert_equal(db: Database, public: bool = True) -> None:
    with db.reader() as s:
        kept = counters.read(s)
    truth = _truth(db)
    assert {k: v for k, v in kept.deliveries.items() if v} == truth.deliveries
    assert {k: v for k, v in kept.items.items() if v} == truth.items
    if public:  # the families of the later migration (0017)
        assert {k: v for k, v in kept.released.items() if v} == truth.released
        assert {k: v for k, v in kept.policies.items() if v} == truth.policies
    kept_attempts = {
        (ch, out, b): (n, round(total, 3))
        for (ch, out), buckets in kept.attempts.items()
        for b, (n, total) in buckets.items()
        if n
    }
    true_attempts = {
        (ch, out, b): (n, round(total, 3))
        for (ch, out), buckets in truth.attempts.items()
        for b, (n, total) in buckets.items()
    }
    assert kept_attempts == true_attempts


def test_kept_counts_equal_a_fresh_count_after_any_mix_of_changes(db: Database) -> None:
    user = _user(db)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(op, min_size=1, max_size=12))
    def check(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        # the database carries over from one example to the next: the counts must hold at
        # every point, not only from empty
        for step in steps:
            _apply(db, user, step)
        _assert_equal(db)

    check()


def test_fold_moves_deltas_without_changing_a_read(db: Database) -> None:
    user = _user(db)
    _apply(db, user, ("items", 2, "policy", "published"))
    _apply(db, user, ("deliveries", 3, "rss", "queued"))
    _apply(db, user, ("move", 1, 0, "delivered"))
    with db.reader() as s:
        before = counters.read(s)
        pending = s.execute(select(func.count()).select_from(counters.CounterDelta)).scalar_one()
    # PostgreSQL appends deltas (folded later), SQLite updates the counters in place
    assert (pending > 0) == db.postgres
    counters.fold(db)
    with db.reader() as s:
        assert s.execute(select(func.count()).select_from(counters.CounterDelta)).scalar_one() == 0
        assert counters.read(s).deliveries == before.deliveries
    assert before.deliveries[("rss", "delivered")] == 3
    assert before.deliveries[("rss", "queued")] == 0
    _assert_equal(db)


def test_a_read_folds_only_a_backlog_and_a_bounded_batch_of_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scrape or an ops page reads the pending deltas in (exact without a fold); only a
    read that met READ_FOLD_AT of them folds, and at most READ_FOLD_BATCH (the periodic jobs
    fold the rest)."""
    user = _user(db)
    for step in (
        ("items", 2, "policy", "published"),
        ("deliveries", 3, "rss", "queued"),
        ("deliveries", 2, "cms", "failed"),
        ("move", 1, 0, "delivered"),
        ("attempts", 3, 0, 5.0),
    ):
        _apply(db, user, step)

    def pending() -> int:
        with db.reader() as s:
            return s.execute(select(func.count()).select_from(counters.CounterDelta)).scalar_one()

    def check(kept: counters.Counts) -> None:
        truth = _truth(db)
        assert {k: v for k, v in kept.deliveries.items() if v} == truth.deliveries
        assert {k: v for k, v in kept.items.items() if v} == truth.items
        _assert_equal(db)

    before = pending()
    assert (before > 3) == db.postgres
    monkeypatch.setattr(counters, "READ_FOLD_AT", before + 1)  # below the threshold: no fold
    kept = counters.snapshot(db)
    assert kept.pending == before and pending() == before
    check(kept)
    monkeypatch.setattr(counters, "READ_FOLD_AT", 1)
    monkeypatch.setattr(counters, "READ_FOLD_BATCH", 2)
    kept = counters.snapshot(db)
    assert kept.pending == before and pending() == max(0, before - 2)
    check(kept)


# -- the backfill ------------------------------------------------------------------------------
def _seed_before_the_counts(db: Database) -> None:
    user = _user(db)
    for step in (
        ("items", 3, "policy", "published"),
        ("items", 1, "notice", "draft"),
        ("deliveries", 4, "rss", "delivered"),
        ("deliveries", 2, "cms", "failed"),
        ("attempts", 3, 0, 5.0),
        ("attempts", 3, 2, 40000.0),
    ):
        _apply(db, user, step)


def test_the_migration_backfills_the_counts_from_existing_rows(empty_url: str) -> None:
    with backfilled(empty_url, "maintained counts", _seed_before_the_counts) as db:
        with db.reader() as s:
            kept = counters.read(s)
        assert kept.deliveries == {("rss", "delivered"): 4, ("cms", "failed"): 2}
        assert kept.items == {("policy", "published"): 3, ("notice", "draft"): 1}
        _assert_equal(db, public=False)
        # and the triggers count from there on
        _apply(db, _user(db), ("move", 1, 0, "queued"))
        _assert_equal(db, public=False)


def _seed_before_the_public_counts(db: Database) -> None:
    user = _user(db)
    for step in (
        ("items", 3, "policy", "published"),
        ("items", 2, "notice", "published"),
        ("publish", 1, 0, PUBLISHED[2]),
        ("items", 1, "policy", "withdrawn"),
        ("publish", 6, 0, PUBLISHED[1]),  # item 6, the withdrawn policy
        ("validity", 3, 1, "已废止", "2026-01-01"),  # items 1 and 4
    ):
        _apply(db, user, step)


def test_the_public_counts_migration_backfills_from_existing_rows(empty_url: str) -> None:
    with backfilled(empty_url, "public counts", _seed_before_the_public_counts) as db:
        with db.reader() as s:
            kept = counters.read(s)
        assert kept.released == {"policy": 3, "notice": 2}  # validity leaves it public
        assert kept.policies == {
            ("2026", "有效|", False): 2,
            ("2026", "已废止|2026", False): 1,
            ("2025", "有效|", True): 1,
        }
        _assert_equal(db)
        _apply(db, _user(db), ("move_item", 1, 0, "withdrawn"))
        _assert_equal(db)


def _pending(db: Database) -> int:
    with db.reader() as s:
        return int(s.execute(select(func.count()).select_from(counters.CounterDelta)).scalar_one())


def test_the_periodic_fold_moves_deltas_in_bounded_batches(db: Database) -> None:
    user = _user(db)
    _apply(db, user, ("items", 2, "policy", "published"))
    _apply(db, user, ("deliveries", 3, "rss", "queued"))
    _apply(db, user, ("move", 1, 0, "delivered"))
    with db.reader() as s:
        before = counters.read(s)
    pending = _pending(db)
    if not db.postgres:  # SQLite's triggers write the counters in place: nothing to fold
        assert pending == 0 and counters.fold_batches(db) == 0
        return
    assert pending > 4
    # one batch of two moves the two oldest deltas only, and a read stays exact
    assert counters.fold_batches(db, batch=2, max_batches=1) == 2
    assert _pending(db) == pending - 2
    with db.reader() as s:
        assert counters.read(s).deliveries == before.deliveries
    # batches until none is left
    assert counters.fold_batches(db, batch=2) == pending - 2
    assert _pending(db) == 0
    with db.reader() as s:
        assert counters.read(s).deliveries == before.deliveries
    _assert_equal(db)


def test_the_periodic_jobs_fold_the_deltas_nobody_scraped(
    make_runtime: Callable[..., Runtime], team: Team
) -> None:
    from publisher.delivery.periodic import run_periodic
    from tests.support import publish

    # given approved items, their deliveries counted, and no /metrics scrape or ops page since
    rt = make_runtime(channels={"rss": {"enabled": True}}, executor=False)
    for i in range(3):
        publish(rt, team, title=f"计数折叠{i}")
    with rt.db.reader() as s:
        before = counters.read(s)
    assert (_pending(rt.db) > 0) == rt.db.postgres
    # when the periodic jobs run, the deltas are folded into the counters, the counts unchanged
    run_periodic(rt.db, rt.settings, rt.channels)
    assert _pending(rt.db) == 0
    with rt.db.reader() as s:
        after = counters.read(s)
    assert after.deliveries == before.deliveries and after.items == before.items
    assert sum(before.items.values()) >= 3
