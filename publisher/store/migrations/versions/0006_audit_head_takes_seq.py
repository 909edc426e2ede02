"""the audit head follows each inserted event's seq as well as its hash

Revision ID: 0006
Revises: 0005

An event is now appended by one INSERT … SELECT that reads the head under its lock, takes
the next seq and the previous hash from it and has the database hash the event; the trigger
then moves the head to the new event, seq and hash. One statement fewer on every transition.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _replace(assignment: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_head_follows() RETURNS trigger AS $$ "
            f"BEGIN UPDATE audit_head SET {assignment} WHERE id = 1; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
    else:
        op.execute("DROP TRIGGER audit_head_follows")
        op.execute(
            "CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events "
            f"BEGIN UPDATE audit_head SET {assignment} WHERE id = 1; END"
        )


def upgrade() -> None:
    _replace("seq = NEW.seq, hash = NEW.hash")


def downgrade() -> None:
    _replace("hash = NEW.hash")
