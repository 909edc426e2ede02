"""recent attempts: the newest attempts with their channel, kept by triggers, so channel health
and the outage banners read a few thousand narrow rows instead of joining the newest attempts
to the ledger on every page

Revision ID: 0024
Revises: 0023

`recent_attempts` holds a copy of each attempt (its id, its delivery's channel, outcome,
duration, start, HTTP status, provider code, error) written by a trigger in the transaction
that inserts the attempt, and removed with it. Channel health (the ops dashboard, the channels
page, the approval confirmation) ranked the store's newest 5,000 attempts joined to their
deliveries (5,000 index probes into the ledger, 20-26 ms a page at 1,000,000 items under load,
70 ms at worst); the outage banners did the same for the newest 500. Both read this table now,
with no join: newest first by its primary key, and a channel's newest by (channel, attempt_id).

The table only needs the newest rows: `publisher.store.recent.prune` (the periodic jobs)
deletes everything below the newest `KEPT` (5,000) in bounded batches. A read never depends on
the pruning — it takes the newest N by the primary key, which are the store's newest N
attempts whether or not older ones are still there.

PostgreSQL: statement-level triggers with transition tables (one INSERT … SELECT per
statement, like 0008's counters). SQLite: row triggers. The backfill copies the newest 5,000
attempts under the lock that keeps writers out between the copy and the trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# frozen copy of publisher.store.recent.KEPT
KEPT = 5000
COLUMNS = "attempt_id, channel, outcome, duration_ms, started_at, http_status, provider_code, error"
VALUES = "t.id, d.channel, t.outcome, t.duration_ms, t.started_at, t.http_status, t.provider_code, t.error"


def upgrade() -> None:
    op.create_table(
        "recent_attempts",
        sa.Column("attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("provider_code", sa.String(32)),
        sa.Column("error", sa.Text),
    )
    # channel health's per-channel read: a channel's newest copies
    op.create_index("ix_recent_attempts_channel", "recent_attempts", ["channel", "attempt_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE attempts IN SHARE ROW EXCLUSIVE MODE")
        _postgres_triggers()
    else:
        _sqlite_triggers()
    op.execute(
        f"INSERT INTO recent_attempts ({COLUMNS}) SELECT {VALUES} "
        f"FROM (SELECT * FROM attempts ORDER BY id DESC LIMIT {KEPT}) t "
        "JOIN deliveries d ON d.id = t.delivery_id"
    )


def _postgres_triggers() -> None:
    for name, body in (
        (
            "attempts_recent_insert",
            f"INSERT INTO recent_attempts ({COLUMNS}) SELECT {VALUES} "
            "FROM new_rows t JOIN deliveries d ON d.id = t.delivery_id;",
        ),
        (
            "attempts_recent_delete",
            "DELETE FROM recent_attempts WHERE attempt_id IN (SELECT id FROM old_rows);",
        ),
        ("attempts_recent_truncate", "DELETE FROM recent_attempts;"),
    ):
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
        )
    for event, refs in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(
            f"CREATE TRIGGER attempts_recent_{event.lower()} AFTER {event} ON attempts "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION attempts_recent_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER attempts_recent_truncate AFTER TRUNCATE ON attempts "
        "FOR EACH STATEMENT EXECUTE FUNCTION attempts_recent_truncate()"
    )


def _sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER attempts_recent_insert AFTER INSERT ON attempts BEGIN "
        f"INSERT INTO recent_attempts ({COLUMNS}) SELECT NEW.id, d.channel, NEW.outcome, NEW.duration_ms, "
        "NEW.started_at, NEW.http_status, NEW.provider_code, NEW.error FROM deliveries d WHERE d.id = NEW.delivery_id; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_recent_delete AFTER DELETE ON attempts BEGIN "
        "DELETE FROM recent_attempts WHERE attempt_id = OLD.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS attempts_recent_{event} ON attempts")
            op.execute(f"DROP FUNCTION IF EXISTS attempts_recent_{event}()")
    else:
        for event in ("insert", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS attempts_recent_{event}")
    op.drop_table("recent_attempts")
