"""index deliveries by (item, channel, id) for the latest-delivery-per-channel reads

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_item_channel", "deliveries", ["item_id", "channel", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_item_channel", table_name="deliveries")
