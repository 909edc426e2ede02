"""The copies of the newest attempts (migration 0024's triggers, `publisher.store.recent`) are
always the store's newest attempts with their delivery's channel, whatever mix of inserts,
deletes, state changes and prunings came before, on SQLite and PostgreSQL; the pruning keeps
the newest `KEPT`; and the migration backfills them from attempts that existed before it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher.store import recent
from publisher.store.db import Database
from publisher.store.models import Attempt, Delivery, RecentAttempt
from tests.conftest import backfilled
from tests.publisher.store.test_counters import _apply, _user
from tests.publisher.store.test_counters import op as counter_op

KEPT = 4  # small, so the pruning has something to do
PRUNE = st.tuples(st.just("prune"), st.integers(1, 3))
# attempts are only ever appended (retention); the counters' test deletes some too
APPENDING = st.one_of(counter_op.filter(lambda step: step[0] != "delete"), PRUNE)
ANY = st.one_of(counter_op, PRUNE)


def _copies(db: Database, n: int | None = None) -> list[tuple[Any, ...]]:
    with db.reader() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    RecentAttempt.attempt_id,
                    RecentAttempt.channel,
                    RecentAttempt.outcome,
                    RecentAttempt.duration_ms,
                    RecentAttempt.started_at,
                    RecentAttempt.http_status,
                    RecentAttempt.provider_code,
                    RecentAttempt.error,
                )
                .order_by(RecentAttempt.attempt_id.desc())
                .limit(n)
            )
        ]


def _truth(db: Database, n: int | None = None, since: int = 0) -> list[tuple[Any, ...]]:
    """The newest `n` attempts from id `since` up, joined to their deliveries: what the readers
    joined before."""
    with db.reader() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    Attempt.id,
                    Delivery.channel,
                    Attempt.outcome,
                    Attempt.duration_ms,
                    Attempt.started_at,
                    Attempt.http_status,
                    Attempt.provider_code,
                    Attempt.error,
                )
                .join(Delivery, Delivery.id == Attempt.delivery_id)
                .where(Attempt.id >= since)
                .order_by(Attempt.id.desc())
                .limit(n)
            )
        ]


def _run(db: Database, steps: list[tuple], appending: bool) -> None:  # type: ignore[type-arg]
    user = _user(db)
    for step in steps:
        if step[0] == "prune":
            recent.prune(db, batch=step[1])
            with db.reader() as s:
                left = s.execute(select(func.count()).select_from(RecentAttempt)).scalar_one()
            # batches of step[1] until fewer were left: nothing below the newest KEPT stays
            assert left <= KEPT
        else:
            _apply(db, user, step)
        copies = _copies(db)
        # every attempt from the oldest copy up, each with its delivery's channel: no gap, no
        # copy of a deleted attempt. With none left (the kept ones deleted by hand after a
        # prune) the window is empty until new attempts refill it; older attempts stay
        # uncopied, which the appending check below would catch where it matters.
        if copies:
            assert copies == _truth(db, since=copies[-1][0])
        if appending:  # and the newest KEPT attempts are all there
            assert copies[:KEPT] == _truth(db, KEPT)


CHECK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_the_copies_are_the_newest_attempts_after_any_mix_of_changes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database carries over from one example to the next: the copies must hold at every
    point, not only from empty."""
    monkeypatch.setattr(recent, "KEPT", KEPT)

    @CHECK
    @given(st.lists(APPENDING, min_size=1, max_size=12))
    def check(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        _run(db, steps, appending=True)

    check()


def test_deleted_attempts_take_their_copies_with_them(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """No attempt is deleted by the service (retention), but a deletion by hand must not
    leave a copy behind; it leaves the window that much shorter until new attempts refill it."""
    monkeypatch.setattr(recent, "KEPT", KEPT)

    @CHECK
    @given(st.lists(ANY, min_size=1, max_size=12))
    def check(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        _run(db, steps, appending=False)

    check()


def test_a_bounded_prune_leaves_the_rest_for_the_next_run(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent, "KEPT", 2)
    user = _user(db)
    _apply(db, user, ("items", 1, "policy", "published"))
    _apply(db, user, ("deliveries", 4, "rss", "delivered"))
    for _ in range(3):
        _apply(db, user, ("attempts", 3, 0, 5.0))  # 9 attempts
    assert recent.prune(db, batch=2, max_batches=2) == 4
    assert len(_copies(db)) == 5
    assert recent.prune(db, batch=2) == 3
    assert _copies(db) == _truth(db, 2)
    assert recent.prune(db) == 0


def test_the_migration_copies_the_newest_attempts(empty_url: str) -> None:
    def seed(db: Database) -> None:
        user = _user(db)
        for step in (
            ("items", 2, "policy", "published"),
            ("deliveries", 3, "rss", "delivered"),
            ("deliveries", 2, "cms", "failed"),
            ("attempts", 3, 0, 5.0),
            ("attempts", 3, 2, 40000.0),
        ):
            _apply(db, user, step)

    with backfilled(empty_url, "recent attempts", seed) as db:
        assert len(_truth(db)) == 6
        assert _copies(db) == _truth(db)
        _apply(db, _user(db), ("attempts", 2, 1, 7.0))  # and the triggers follow from there
        assert _copies(db) == _truth(db)
