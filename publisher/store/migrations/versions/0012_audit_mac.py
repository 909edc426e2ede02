"""audit chain keyed hashes: audit_events.mac (HMAC with a key kept outside the database)

Existing events keep no keyed hash; `publisher audit seal` keys them once a key is
configured (docs/security.md, "Audit anchoring").

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both dialects: a batch (copy-and-move) on SQLite would drop the
# audit_head_follows trigger on this table.
def upgrade() -> None:
    op.add_column("audit_events", sa.Column("mac", sa.String(length=80), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_events", "mac")
