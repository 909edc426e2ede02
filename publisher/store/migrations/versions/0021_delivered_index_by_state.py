"""the delivered-since index leads with state and operation, so SQLite (no statistics) reads a
range of it instead of every delivered row through the (state, …) and (channel, state) indexes

Revision ID: 0021
Revises: 0020

`ix_deliveries_delivered` (0018) was `delivered_at` alone. Without statistics SQLite's planner
preferred an equality on `state` in another index — every delivered row, the archive — for the
inspection watch's "delivered since" read, and `(channel, state)` for the daily digests' "delivered
today". Leading with the equalities those statements carry (`state`, `operation`) and ending with
the range makes this index the best match on SQLite and keeps the range on PostgreSQL.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = text("delivered_at IS NOT NULL")
    op.drop_index("ix_deliveries_delivered", table_name="deliveries")
    op.create_index(
        "ix_deliveries_delivered",
        "deliveries",
        ["state", "operation", "delivered_at"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    where = text("delivered_at IS NOT NULL")
    op.drop_index("ix_deliveries_delivered", table_name="deliveries")
    op.create_index(
        "ix_deliveries_delivered", "deliveries", ["delivered_at"], postgresql_where=where, sqlite_where=where
    )
