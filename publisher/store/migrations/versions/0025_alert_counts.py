"""alert counts: alert messages per status and their send tries per target type and outcome,
kept by triggers like 0008's families, so `/metrics` no longer counts the alert history

Revision ID: 0025
Revises: 0024

Two more families in `counters`:

    alert_note  a=status (pending|sending|sent|failed)   b=''             c=0
    alert_try   a=target type (webhook|email|none)       b='ok'|'error'   c=0

`/metrics` grouped every alert message and every try ever made (joined to its message for the
target) on each scrape: small, but growing with the alert history for as long as the
deployment lives. It reads these counters now; what it still reads from the alert tables is
bounded (the unsent messages through ix_alert_notifications_due, one group per kind and
channel).

Same shape of triggers as 0008 and 0017: statement-level deltas on PostgreSQL, row triggers
updating `counters` on SQLite; a try's target type is its message's. The backfill runs under
the lock that keeps writers out.
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

FAMILIES = "('alert_note', 'alert_try')"
# a try's target type, from its message's target ("webhook:<url>", "email" or "none")
TARGET = "CASE WHEN n.target LIKE 'webhook:%' THEN 'webhook' ELSE substr(n.target, 1, 32) END"


def _notes(rows: str, k: str) -> str:
    return f"SELECT 'alert_note' AS f, status AS a, '' AS b, 0 AS c, {k} AS k FROM {rows}"


def _tries(rows: str, k: str) -> str:
    return (
        f"SELECT 'alert_try' AS f, {TARGET} AS a, CASE WHEN t.ok THEN 'ok' ELSE 'error' END AS b, "
        f"0 AS c, {k} AS k FROM {rows} t JOIN alert_notifications n ON n.id = t.notification_id"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE alert_notifications, alert_attempts IN SHARE ROW EXCLUSIVE MODE")
        _postgres_triggers()
    else:
        _sqlite_triggers()
    op.execute(
        "INSERT INTO counters (family, a, b, c, n, total) "
        f"SELECT f, a, b, c, sum(k), 0 FROM ({_notes('alert_notifications', '1')} "
        f"UNION ALL {_tries('alert_attempts', '1')}) t GROUP BY f, a, b, c"
    )


def _postgres_triggers() -> None:
    put = "INSERT INTO counter_deltas (family, a, b, c, n, total) SELECT f, a, b, c, sum(k), 0 FROM "
    bodies = {
        ("alert_notifications", "notes"): {
            "insert": f"{put} ({_notes('new_rows', '1')}) t GROUP BY f, a, b, c;",
            # net change per status: an UPDATE that keeps the status adds nothing
            "update": (
                f"{put} ({_notes('old_rows', '-1')} UNION ALL {_notes('new_rows', '1')}) t "
                "GROUP BY f, a, b, c HAVING sum(k) <> 0;"
            ),
            "delete": f"{put} ({_notes('old_rows', '-1')}) t GROUP BY f, a, b, c;",
            "truncate": (
                "DELETE FROM counters WHERE family = 'alert_note'; "
                "DELETE FROM counter_deltas WHERE family = 'alert_note';"
            ),
        },
        ("alert_attempts", "tries"): {
            "insert": f"{put} ({_tries('new_rows', '1')}) t GROUP BY f, a, b, c;",
            "delete": f"{put} ({_tries('old_rows', '-1')}) t GROUP BY f, a, b, c;",
            "truncate": (
                "DELETE FROM counters WHERE family = 'alert_try'; "
                "DELETE FROM counter_deltas WHERE family = 'alert_try';"
            ),
        },
    }
    refs = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
        "truncate": "",
    }
    for (table, what), events in bodies.items():
        for event, body in events.items():
            name = f"alert_counts_{what}_{event}"
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {refs[event]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )


def _sqlite_add(status: str, k: str) -> str:
    return (
        f"INSERT INTO counters (family, a, b, c, n, total) VALUES ('alert_note', {status}, '', 0, {k}, 0) "
        "ON CONFLICT (family, a, b, c) DO UPDATE SET n = n + excluded.n;"
    )


def _sqlite_try(row: str, k: str) -> str:
    # SQLite's upsert after a SELECT needs its WHERE to parse
    return (
        f"INSERT INTO counters (family, a, b, c, n, total) SELECT 'alert_try', {TARGET}, "
        f"CASE WHEN {row}.ok THEN 'ok' ELSE 'error' END, 0, {k}, 0 FROM alert_notifications n "
        f"WHERE n.id = {row}.notification_id ON CONFLICT (family, a, b, c) DO UPDATE SET n = n + excluded.n;"
    )


def _sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER alert_counts_notes_insert AFTER INSERT ON alert_notifications BEGIN "
        f"{_sqlite_add('NEW.status', '1')} END"
    )
    op.execute(
        "CREATE TRIGGER alert_counts_notes_update AFTER UPDATE OF status ON alert_notifications "
        f"WHEN OLD.status <> NEW.status BEGIN {_sqlite_add('OLD.status', '-1')} {_sqlite_add('NEW.status', '1')} END"
    )
    op.execute(
        "CREATE TRIGGER alert_counts_notes_delete AFTER DELETE ON alert_notifications BEGIN "
        f"{_sqlite_add('OLD.status', '-1')} END"
    )
    op.execute(
        f"CREATE TRIGGER alert_counts_tries_insert AFTER INSERT ON alert_attempts BEGIN {_sqlite_try('NEW', '1')} END"
    )
    op.execute(
        f"CREATE TRIGGER alert_counts_tries_delete AFTER DELETE ON alert_attempts BEGIN {_sqlite_try('OLD', '-1')} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, what, events in (
            ("alert_notifications", "notes", ("insert", "update", "delete", "truncate")),
            ("alert_attempts", "tries", ("insert", "delete", "truncate")),
        ):
            for event in events:
                op.execute(f"DROP TRIGGER IF EXISTS alert_counts_{what}_{event} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS alert_counts_{what}_{event}()")
    else:
        for name in ("notes_insert", "notes_update", "notes_delete", "tries_insert", "tries_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS alert_counts_{name}")
    op.execute(f"DELETE FROM counters WHERE family IN {FAMILIES}")
    op.execute(f"DELETE FROM counter_deltas WHERE family IN {FAMILIES}")
