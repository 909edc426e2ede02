"""alerts as ledger facts: the outbox of alert events, groups, notifications with attempts,
silences, and the alert clock's row

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = publisher.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", _AT(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("folded_at", _AT(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_events_unfolded", "alert_events", ["folded_at", "id"])
    op.create_table(
        "alert_groups",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("firing_since", _AT(), nullable=False),
        sa.Column("last_event_at", _AT(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("first_error", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.Column("notify_at", _AT(), nullable=True),
        sa.Column("notified_at", _AT(), nullable=True),
        sa.Column("resolved_at", _AT(), nullable=True),
        sa.Column("resolved_reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "channel"),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("group_id", _ID, sa.ForeignKey("alert_groups.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("target", sa.String(length=600), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _AT(), nullable=False),
        sa.Column("lease_expires_at", _AT(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _AT(), nullable=False),
        sa.Column("sent_at", _AT(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_notifications_due", "alert_notifications", ["status", "next_attempt_at"])
    op.create_table(
        "alert_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("notification_id", _ID, sa.ForeignKey("alert_notifications.id"), nullable=False),
        sa.Column("at", _AT(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_attempts_notification_id", "alert_attempts", ["notification_id"])
    op.create_table(
        "alert_silences",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("starts_at", _AT(), nullable=False),
        sa.Column("ends_at", _AT(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.Column("removed_at", _AT(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alert_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticked_at", _AT(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("alert_clock")
    op.drop_table("alert_silences")
    op.drop_index("ix_alert_attempts_notification_id", table_name="alert_attempts")
    op.drop_table("alert_attempts")
    op.drop_index("ix_alert_notifications_due", table_name="alert_notifications")
    op.drop_table("alert_notifications")
    op.drop_table("alert_groups")
    op.drop_index("ix_alert_events_unfolded", table_name="alert_events")
    op.drop_table("alert_events")
