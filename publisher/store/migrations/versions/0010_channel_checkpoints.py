"""adapters' durable progress: per-delivery checkpoints and per-channel shared values

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.store.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_AT = publisher.store.models.UTCDateTime
_JSON = publisher.store.models.JSONType


def upgrade() -> None:
    op.create_table(
        "delivery_checkpoints",
        sa.Column("delivery_key", sa.String(length=64), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("updated_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_key"], ["deliveries.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_key"),
    )
    op.create_table(
        "channel_values",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("expires_at", _AT(), nullable=True),
        sa.Column("updated_at", _AT(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "name"),
    )


def downgrade() -> None:
    op.drop_table("channel_values")
    op.drop_table("delivery_checkpoints")
