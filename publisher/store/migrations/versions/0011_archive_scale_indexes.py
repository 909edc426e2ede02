"""indexes whose cost follows what is shown or due, not the archive

Revision ID: 0011
Revises: 0010

- items (updated_at, id) and (published_at, id): the item list's two orders, read newest
  first and continued by keyset, instead of sorting every matching row;
- deliveries: the due index and two new ones (failed by time; the outbox per channel by
  age) are partial on PostgreSQL, over the live states only, so they stay small while
  delivered rows pile up. SQLite's planner cannot match a partial index against a bound
  parameter, so there they are full indexes of the same columns;
- PostgreSQL: trigram GIN indexes (pg_trgm, in contrib) on title, 索引号 and ref for the
  item search's substring match. Trigrams of CJK text are kept under the C.UTF-8 locale
  (checked in tests/publisher/store/test_search_index.py). A role that may not create the
  extension gets no trigram index: search still works, by scanning.

Building these on a large ledger takes minutes and blocks writes to the table meanwhile;
see docs/operations.md for building them CONCURRENTLY ahead of the upgrade.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

LIVE = "state IN ('queued', 'retry_wait', 'held', 'sending', 'accepted', 'failed')"
OUTBOX = "state IN ('queued', 'retry_wait', 'held', 'sending')"
TRGM = (
    ("ix_items_title_trgm", "title"),
    ("ix_items_index_number_trgm", "index_number"),
    ("ix_items_ref_trgm", "ref"),
)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.drop_index("ix_items_updated_at", table_name="items")
    op.create_index("ix_items_updated", "items", ["updated_at", "id"])
    op.create_index("ix_items_published", "items", ["published_at", "id"])
    pg = _pg()
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    for name, columns, predicate in (
        ("ix_deliveries_due", ["state", "next_attempt_at"], LIVE),
        ("ix_deliveries_failed", ["state", "updated_at", "id"], "state = 'failed'"),
        ("ix_deliveries_outbox", ["channel", "state", "created_at"], OUTBOX),
    ):
        op.create_index(name, "deliveries", columns, postgresql_where=text(predicate) if pg else None)
    if pg and _trigram_extension():
        for name, column in TRGM:
            op.execute(f"CREATE INDEX {name} ON items USING gin ({column} gin_trgm_ops)")


def _trigram_extension() -> bool:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        return True
    except DBAPIError as exc:  # no contrib, or a role without the right: search scans instead
        log.warning("pg_trgm not available, item search will scan: %s", exc.orig)
        return False


def downgrade() -> None:
    if _pg():
        for name, _column in TRGM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name in ("ix_deliveries_outbox", "ix_deliveries_failed", "ix_deliveries_due"):
        op.drop_index(name, table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    op.drop_index("ix_items_published", table_name="items")
    op.drop_index("ix_items_updated", table_name="items")
    op.create_index("ix_items_updated_at", "items", ["updated_at"])
