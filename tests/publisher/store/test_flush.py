"""Transitions commit without holding their locks through the WAL flush, and return durable."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from publisher.store.db import Database, Flush


def test_after_locks_releases_before_the_flush_and_returns_after_it(db: Database) -> None:
    def fn(session: Session) -> str:
        return str(session.execute(text("SELECT 1")).scalar_one())

    if not db.postgres:
        # SQLite (WAL, synchronous=NORMAL) has no flush to wait for: the same as run
        assert db.unflushed_sessions is db.sessions and db.run(fn, flush=Flush.AFTER_LOCKS) == "1"
        return
    committed_at: list[str] = []

    def record_lsn(_session: Session) -> None:
        # the end of the WAL just after the commit: the commit record lies before it
        with db.engine.connect() as conn:
            committed_at.append(conn.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar_one())

    def inside(session: Session) -> tuple[str, str]:
        session.execute(text("CREATE TEMP TABLE IF NOT EXISTS flushed (x int)"))
        session.execute(text("INSERT INTO flushed VALUES (1)"))
        return (
            session.execute(text("SHOW synchronous_commit")).scalar_one(),
            session.execute(text("SELECT pg_current_xact_id()::text")).scalar_one(),
        )

    event.listen(db.unflushed_sessions, "after_commit", record_lsn)
    try:
        setting, _xid = db.run(inside, flush=Flush.AFTER_LOCKS)
    finally:
        event.remove(db.unflushed_sessions, "after_commit", record_lsn)
    # the transaction itself committed without waiting for the flush (its locks went at once)
    assert setting == "off"
    # and by the time it returned, the WAL was flushed past its commit
    with db.engine.connect() as conn:
        durable = conn.exec_driver_sql(
            "SELECT pg_current_wal_flush_lsn() >= CAST(%(lsn)s AS pg_lsn)", {"lsn": committed_at[0]}
        ).scalar_one()
    assert durable
