"""compliance: calendar years, applications, item links, reminders, alert marks

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.store.models

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", _JSON, nullable=False),
        sa.Column("workdays", _JSON, nullable=False),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", publisher.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "applications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("request", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_type", sa.String(length=32), nullable=True),
        sa.Column("applicant", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", publisher.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "item_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_uid", sa.String(length=26), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", publisher.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "item_uid"),
    )
    with op.batch_alter_table("item_links", schema=None) as batch_op:
        batch_op.create_index("ix_item_links_target", ["kind", "target"], unique=False)
    op.create_table(
        "reminders",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_uid", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_at", publisher.store.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", publisher.store.models.UTCDateTime(), nullable=True),
        sa.Column("done_by_uid", sa.String(length=26), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "item_uid"),
    )
    op.create_table(
        "alert_marks",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", publisher.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )


def downgrade() -> None:
    op.drop_table("alert_marks")
    op.drop_table("reminders")
    with op.batch_alter_table("item_links", schema=None) as batch_op:
        batch_op.drop_index("ix_item_links_target")
    op.drop_table("item_links")
    op.drop_table("applications")
    op.drop_table("calendar_years")
