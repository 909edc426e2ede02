"""keep the audit chain's head in step with each inserted event, in the database

Revision ID: 0005
Revises: 0004

The appender increments the head (taking its lock and reading the previous hash) and inserts
the event; this trigger then records the new tip. One statement fewer on every transition.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_head_follows() RETURNS trigger AS $$ "
            "BEGIN UPDATE audit_head SET hash = NEW.hash WHERE id = 1; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_head_follows()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events "
            "BEGIN UPDATE audit_head SET hash = NEW.hash WHERE id = 1; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_follows ON audit_events")
        op.execute("DROP FUNCTION audit_head_follows()")
    else:
        op.execute("DROP TRIGGER audit_head_follows")
