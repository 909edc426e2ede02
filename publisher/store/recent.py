"""The newest attempts with their channel (table `recent_attempts`, kept by the triggers of
migration 0024): what channel health and the outage banners read instead of joining the
newest attempts to the ledger.

The triggers copy every attempt as it is inserted (and remove it with the attempt), so the
table's newest N rows are always the store's newest N attempts, for any N up to `KEPT` —
whether or not the pruning has run. `prune` (the periodic jobs) deletes what lies below the
newest `KEPT`, in bounded batches, so the table stays a few thousand rows.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from publisher.store.db import Database, Flush
from publisher.store.models import RecentAttempt

# How many of the newest attempts are kept: the widest window a reader takes (channel
# health's 5,000, publisher.observe.metrics.HEALTH_WINDOW). Migration 0024 backfills as many.
KEPT = 5000
# Rows one transaction of the pruning deletes, and how many such transactions one run takes
PRUNE_BATCH = 10_000
PRUNE_MAX_BATCHES = 50


def prune(db: Database, batch: int = PRUNE_BATCH, max_batches: int = PRUNE_MAX_BATCHES) -> int:
    """Delete the rows below the newest `KEPT`, the oldest `batch` per transaction, until none
    is left or after `max_batches` (the next run continues). Returns the rows deleted."""
    deleted = 0
    for _ in range(max_batches):
        with db.transaction(flush=Flush.LATER) as s:
            floor = s.execute(
                select(RecentAttempt.attempt_id)
                .order_by(RecentAttempt.attempt_id.desc())
                .offset(KEPT - 1)
                .limit(1)
            ).scalar_one_or_none()
            if floor is None:
                return deleted
            oldest = (
                select(RecentAttempt.attempt_id)
                .where(RecentAttempt.attempt_id < floor)
                .order_by(RecentAttempt.attempt_id)
                .limit(batch)
            )
            n = (
                s.connection()
                .execute(delete(RecentAttempt).where(RecentAttempt.attempt_id.in_(oldest)))
                .rowcount
            )
        deleted += n
        if n < batch:
            break
    return deleted
