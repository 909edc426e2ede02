"""the periodic jobs read what changed, not the archive: deliveries indexed by when they were
confirmed, the inspection watch's newest delivery per channel and item type, job marks, open
reminders and recent audit events of one action

Revision ID: 0018
Revises: 0017

`ix_deliveries_delivered` (partial: rows not yet delivered carry no time) lets the inspection
check and the daily digests read a range of recent deliveries. `inspection_newest` is the
inspection watch's fold of the ledger, backfilled here from the deliveries already confirmed,
so the first check after the upgrade reads only what came after. `job_marks` holds where a
job got to (the consultation check: the consultations still open, and how far it has read);
without a mark a job reads everything once. `ix_reminders_open` and
`ix_audit_events_action_at` (was a digest sent today?) keep the rest of the checks off the
history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = text("delivered_at IS NOT NULL")
    op.create_index(
        "ix_deliveries_delivered", "deliveries", ["delivered_at"], postgresql_where=where, sqlite_where=where
    )
    op.create_table(
        "inspection_newest",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("item_type", sa.String(32), primary_key=True),
        sa.Column("newest_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "job_marks",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    open_ = text("done_at IS NULL")
    op.create_index("ix_reminders_open", "reminders", ["kind"], postgresql_where=open_, sqlite_where=open_)
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])
    op.execute(
        "INSERT INTO inspection_newest (channel, item_type, newest_at) "
        "SELECT d.channel, i.type, max(d.delivered_at) FROM deliveries d JOIN items i ON i.id = d.item_id "
        "WHERE d.state = 'delivered' AND d.operation = 'publish' AND d.delivered_at IS NOT NULL "
        "GROUP BY d.channel, i.type"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
    op.drop_index("ix_reminders_open", table_name="reminders")
    op.drop_table("job_marks")
    op.drop_table("inspection_newest")
    op.drop_index("ix_deliveries_delivered", table_name="deliveries")
