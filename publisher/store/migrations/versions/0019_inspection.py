"""post-publication inspection: the live copies to inspect (one per item and channel, with
when each is next due) and drift records

Revision ID: 0019
Revises: 0018

`live_copies` holds the newest delivered publish/update per item and channel; the ledger
writes it when a delivery becomes delivered (a withdrawal removes it). The inspection
clock reads only the rows due (`ix_live_copies_due`: channel, next_inspect_at), never the
deliveries. `drifts` are ledger facts about one delivery: what was expected and found,
open until an inspection finds the copy right again, ops re-push it or accept it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.store.models

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = publisher.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "live_copies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("item_id", _ID, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", _ID, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("delivered_at", _AT(), nullable=False),
        sa.Column("next_inspect_at", _AT(), nullable=False),
        sa.Column("last_inspected_at", _AT(), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("inspections", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "channel"),
    )
    op.create_index("ix_live_copies_due", "live_copies", ["channel", "next_inspect_at"])
    op.create_table(
        "drifts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("delivery_id", _ID, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("item_id", _ID, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        # what it concerns within the copy: "" for the copy itself, the URL of a link
        sa.Column("subject", sa.String(length=1000), nullable=False, server_default=""),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("found", sa.Text(), nullable=False),
        sa.Column("detected_at", _AT(), nullable=False),
        sa.Column("last_seen_at", _AT(), nullable=False),
        sa.Column("resolved_at", _AT(), nullable=True),
        # cleared (inspection found it right) | repushed | accepted
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_drifts_delivery", "drifts", ["delivery_id", "kind"])
    op.create_index("ix_drifts_item", "drifts", ["item_id", "id"])
    op.create_index("ix_drifts_open", "drifts", ["resolved_at", "channel"])


def downgrade() -> None:
    op.drop_index("ix_drifts_open", table_name="drifts")
    op.drop_index("ix_drifts_item", table_name="drifts")
    op.drop_index("ix_drifts_delivery", table_name="drifts")
    op.drop_table("drifts")
    op.drop_index("ix_live_copies_due", table_name="live_copies")
    op.drop_table("live_copies")
