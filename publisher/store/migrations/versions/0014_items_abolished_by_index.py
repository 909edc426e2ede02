"""index the items abolished by a notice (the compliance check reads them with the items in the works)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = text("abolished_by IS NOT NULL")
    op.create_index(
        "ix_items_abolished_by", "items", ["abolished_by"], postgresql_where=where, sqlite_where=where
    )


def downgrade() -> None:
    op.drop_index("ix_items_abolished_by", table_name="items")
