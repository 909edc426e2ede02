"""The inspection watch's fold (`inspection_newest`, migration 0018) read with the deliveries
confirmed since always equals the newest delivery per channel and item type taken over the
whole ledger, whatever mix of deliveries and folds came before, on SQLite and PostgreSQL; it
reads only the recent range; and the migration backfills it from rows that existed before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from publisher.compliance.inspection import ANY, OVERLAP, _delivered_since, _newest
from publisher.store.db import Database
from publisher.store.models import Delivery, InspectionNewest, Item
from tests.conftest import backfilled
from tests.rows import admin_user, delivery_row, item_row, published_version

T0 = datetime(2026, 6, 1, tzinfo=UTC)
CHANNELS = ("rss", "cms")
TYPES = ("policy", "notice")

step = st.one_of(
    # a delivery: channel, item type, operation, state, minutes after the newest so far
    # (negative: recorded a little late, within the overlap)
    st.tuples(
        st.just("deliver"),
        st.sampled_from(CHANNELS),
        st.sampled_from(TYPES),
        st.sampled_from(["publish", "update"]),
        st.sampled_from(["delivered", "delivered", "failed"]),
        st.integers(-59, 600),
    ),
    st.tuples(st.just("fold")),
)


def _user(db: Database) -> int:
    return admin_user(db, "watch", T0)


def _deliver(db: Database, user: int, channel: str, kind: str, op: str, state: str, at: datetime) -> None:
    with db.transaction() as s:
        values = item_row(user, at, type=kind, state="published", title="巡查")
        item = s.execute(insert(Item).values(**values).returning(Item.id)).scalar_one()
        delivered_at = at if state == "delivered" else None
        row = delivery_row(item, published_version(s, item, user, at), channel, state, at, operation=op)
        s.execute(insert(Delivery).values(**row, delivered_at=delivered_at))


def _truth(db: Database) -> dict[tuple[str, str], datetime]:
    with db.reader() as s:
        out: dict[tuple[str, str], datetime] = {}
        for channel, kind, at in _delivered_since(s, None):
            out[(channel, kind)] = at
            out[(channel, ANY)] = max(at, out.get((channel, ANY), at))
        return out


def test_the_fold_plus_what_came_since_equals_the_whole_ledger(db: Database) -> None:
    user = _user(db)
    clock = {"newest": T0}

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(step, min_size=1, max_size=10))
    def check(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        # the database carries over from one example to the next
        for s in steps:
            if s[0] == "fold":
                with db.transaction() as session:
                    _newest(session, fold=True)
                continue
            _, channel, kind, op, state, minutes = s
            at = clock["newest"] + timedelta(minutes=minutes)
            clock["newest"] = max(clock["newest"], at)
            _deliver(db, user, channel, kind, op, state, at)
            with db.reader() as session:
                assert _newest(session) == _truth(db)
        with db.reader() as session:
            assert _newest(session) == _truth(db)

    check()


def test_a_read_after_the_fold_skips_what_is_older_than_the_overlap(db: Database) -> None:
    # given a fold that holds rss/policy at T0
    user = _user(db)
    _deliver(db, user, "rss", "policy", "publish", "delivered", T0)
    with db.transaction() as s:
        _newest(s, fold=True)
        assert [(r.channel, r.item_type) for r in s.execute(select(InspectionNewest)).scalars()] == [
            ("rss", "policy")
        ]
    # when a notice is stamped just inside the overlap, it is read
    _deliver(db, user, "rss", "notice", "publish", "delivered", T0 - OVERLAP + timedelta(minutes=1))
    with db.reader() as s:
        assert _newest(s)[("rss", "notice")] == T0 - OVERLAP + timedelta(minutes=1)
    # but a row stamped before the overlap is history the read no longer scans (the fold is
    # what makes the check cost the recent deliveries, not the archive)
    with db.transaction() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.delivered_at == T0 - OVERLAP + timedelta(minutes=1))
            .values(delivered_at=T0 - OVERLAP - timedelta(minutes=1))
        )
    with db.reader() as s:
        assert ("rss", "notice") not in _newest(s)
        assert _newest(s)[("rss", ANY)] == T0


# -- the backfill ------------------------------------------------------------------------------
def _seed_before_the_fold(db: Database) -> None:
    user = _user(db)
    _deliver(db, user, "rss", "policy", "publish", "delivered", T0)
    _deliver(db, user, "rss", "policy", "publish", "delivered", T0 + timedelta(days=1))
    _deliver(db, user, "rss", "notice", "update", "delivered", T0 + timedelta(days=2))  # not new content
    _deliver(db, user, "cms", "notice", "publish", "failed", T0 + timedelta(days=3))


def test_the_migration_backfills_the_fold_from_existing_rows(empty_url: str) -> None:
    with backfilled(empty_url, "the periodic jobs read what changed", _seed_before_the_fold) as db:
        with db.reader() as s:
            folded = {
                (r.channel, r.item_type): r.newest_at for r in s.execute(select(InspectionNewest)).scalars()
            }
        assert folded == {("rss", "policy"): T0 + timedelta(days=1)}
