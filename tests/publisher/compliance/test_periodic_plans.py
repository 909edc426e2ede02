"""The periodic checks' own statements read a range of an index, not the archive (migrations
0018, 0021): the inspection watch's read of what was delivered since its fold, the digests'
"already sent today?" and "delivered today" lookups, and the consultation check's "changed
since" — their plans (EXPLAIN) on SQLite and PostgreSQL name the index. A dropped index or a
rewritten query that no longer fits it fails (SQLite has no statistics: it once read every
delivered row through another index's equality on state)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher.compliance import check_consultations, check_deadlines
from publisher.compliance.inspection import _newest
from publisher.delivery.periodic import run_digests
from publisher.runtime import Runtime
from publisher.store.db import Database
from tests.publisher.compliance.test_inspection_fold import _deliver, _user
from tests.support import on_statements

T0 = datetime(2026, 6, 1, tzinfo=UTC)


@contextmanager
def statements(db: Database, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements containing `marker` run on this database meanwhile."""
    seen: list[tuple[str, Any]] = []

    def keep(statement: str, params: Any) -> None:
        if marker in statement:
            seen.append((statement, params))

    with on_statements(db, keep):
        yield seen


def plan(db: Database, statement: str, params: Any) -> str:
    with db.reader() as s:
        conn = s.connection()
        if db.postgres:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: show the index
            rows = conn.exec_driver_sql("EXPLAIN " + statement, params)
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        return " / ".join(str(r[-1]) for r in rows)


def test_the_inspection_read_after_a_fold_is_an_index_range(db: Database) -> None:
    user = _user(db)
    for k in range(40):
        _deliver(
            db, user, "rss", ("policy", "notice")[k % 2], "publish", "delivered", T0 + timedelta(hours=k)
        )
    with db.transaction() as s:
        _newest(s, fold=True)
    with statements(db, "max(deliveries.delivered_at)") as seen, db.reader() as s:
        _newest(s)
    [(statement, params)] = seen
    assert "ix_deliveries_delivered" in plan(db, statement, params)


# a channel that makes digests (WeChat); nothing is delivered today, so it is never called
WECHAT = {
    "enabled": True,
    "appid": "wx0000000000000000",
    "secret_env": "PUBLISHER_TEST_UNUSED_SECRET",
    "api_base_url": "http://127.0.0.1:9/cgi-bin/",
}


def test_the_digests_read_today_from_indexes(make_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_TEST_UNUSED_SECRET", "unused")
    rt: Runtime = make_runtime({"wechat": WECHAT}, executor=False)
    user = _user(rt.db)
    for k in range(40):  # months of history, none of it today
        _deliver(rt.db, user, "wechat", "policy", "publish", "delivered", T0 + timedelta(hours=k))
    with (
        statements(rt.db, "audit_events") as audits,
        statements(rt.db, "deliveries.delivered_at >=") as today,
    ):
        run_digests(rt.db, rt.settings, rt.channels)
    assert audits and today, "wechat makes digests: both lookups run"
    assert "ix_audit_events_action_at" in plan(rt.db, *audits[0])
    assert "ix_deliveries_delivered" in plan(rt.db, *today[0])


def test_the_consultation_check_reads_what_changed_through_a_time_index(db: Database) -> None:
    user = _user(db)
    for k in range(40):
        _deliver(
            db,
            user,
            "rss",
            ("consultation", "policy")[k % 2],
            "publish",
            "delivered",
            T0 + timedelta(hours=k),
        )
    with db.transaction() as s:
        check_consultations(s, T0 + timedelta(days=3))  # no mark yet: reads everything, leaves one
    with statements(db, "items.updated_at >=") as seen, db.transaction() as s:
        check_consultations(s, T0 + timedelta(days=4))
    [(statement, params)] = seen
    shown = plan(db, statement, params)
    assert "ix_items_updated" in shown or "ix_items_type_updated" in shown, shown


def test_the_deadline_check_reads_the_items_in_the_works_through_indexes(db: Database) -> None:
    user = _user(db)
    for k in range(40):
        _deliver(db, user, "rss", "policy", "publish", "delivered", T0 + timedelta(hours=k))
    with statements(db, "abolished_by IS NOT NULL") as seen, db.transaction() as s:
        check_deadlines(s, T0 + timedelta(days=3))
    [(statement, params)] = seen
    shown = plan(db, statement, params)
    # SQLite answered an OR of the two conditions with a scan of every item
    assert "ix_items_state" in shown and "SCAN items" not in shown and "Seq Scan" not in shown, shown


def test_an_audit_search_by_title_and_action_reads_the_items_events(db: Database) -> None:
    """The audit search for an item title and an action reads the matching items' events
    through `ix_audit_events_item_uid`, not every event of the action through
    `ix_audit_events_action_at` (SQLite, without statistics, chose the latter: 589 ms at
    100,000 items, 5.75x the 10,000-item time)."""
    from publisher.domain.actions import AuditAction
    from publisher.editorial.auditsearch import AuditQuery, search_audit
    from publisher.editorial.service import Service
    from publisher.settings import Settings

    user = _user(db)
    for k in range(30):
        _deliver(db, user, "rss", "policy", "publish", "delivered", T0 + timedelta(hours=k))
    service = Service(db, Settings(database={"url": str(db.engine.url)}))
    with statements(db, "FROM audit_events") as seen:
        search_audit(service, AuditQuery(q="巡查", action=AuditAction.APPROVE))
    statement, params = next((st, p) for st, p in seen if "ORDER BY audit_events.seq DESC" in st)
    found = plan(db, statement, params)
    if not db.postgres:  # PostgreSQL picks by its statistics (a small table here)
        assert "ix_audit_events_item_uid" in found and "ix_audit_events_action_at" not in found, found
