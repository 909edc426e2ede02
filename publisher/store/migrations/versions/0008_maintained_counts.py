"""maintained counts: deliveries per channel and state, items per type and state, attempts per
channel, outcome and latency bucket, kept by triggers so /metrics and the ops pages never
count the ledger

Revision ID: 0008
Revises: 0007

One table, `counters` (family, a, b, c) -> n, total:

    delivery  a=channel  b=state    c=0
    item      a=type     b=state    c=0
    attempt   a=channel  b=outcome  c=latency bucket (0..12, 12 = above the last bound)  total=sum of ms

PostgreSQL: statement-level triggers with transition tables append the net change of each
statement to `counter_deltas` (an INSERT never waits for another writer's row lock, so
concurrent workers do not queue on one hot counter row); readers add the deltas to the
counters and `publisher.store.counters.fold` moves them over now and then. SQLite has one
writer at a time, so its row triggers update `counters` directly and the deltas stay empty.

The backfill runs under a lock that keeps writers out between the count and the trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# frozen copy of publisher.observe.metrics.LATENCY_BUCKETS in milliseconds: a change of the
# buckets needs a migration that rebuilds the attempt family
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def _bucket(column: str) -> str:
    whens = " ".join(f"WHEN {column} <= {b} THEN {i}" for i, b in enumerate(BUCKETS_MS))
    return f"(CASE {whens} ELSE {len(BUCKETS_MS)} END)"


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("family", sa.String(16), primary_key=True),
        sa.Column("a", sa.String(32), primary_key=True),
        sa.Column("b", sa.String(32), primary_key=True),
        sa.Column("c", sa.Integer, primary_key=True),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "counter_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("a", sa.String(32), nullable=False),
        sa.Column("b", sa.String(32), nullable=False),
        sa.Column("c", sa.Integer, nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.Float, nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE items, deliveries, attempts IN SHARE ROW EXCLUSIVE MODE")
        _postgres_triggers()
    else:
        _sqlite_triggers()
    op.execute(
        "INSERT INTO counters (family, a, b, c, n, total) "
        "SELECT 'delivery', channel, state, 0, count(*), 0 FROM deliveries GROUP BY channel, state"
    )
    op.execute(
        "INSERT INTO counters (family, a, b, c, n, total) "
        "SELECT 'item', type, state, 0, count(*), 0 FROM items GROUP BY type, state"
    )
    op.execute(
        "INSERT INTO counters (family, a, b, c, n, total) "
        f"SELECT 'attempt', d.channel, t.outcome, {_bucket('t.duration_ms')}, count(*), sum(t.duration_ms) "
        "FROM attempts t JOIN deliveries d ON d.id = t.delivery_id "
        f"GROUP BY d.channel, t.outcome, {_bucket('t.duration_ms')}"
    )


# -- PostgreSQL -------------------------------------------------------------------------------
def _pg_function(name: str, body: str) -> None:
    op.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
    )


def _pg_state_family(table: str, family: str, label: str) -> None:
    put = "INSERT INTO counter_deltas (family, a, b, c, n, total) "
    _pg_function(
        f"{table}_counts_insert",
        f"{put} SELECT '{family}', {label}, state, 0, count(*), 0 FROM new_rows GROUP BY {label}, state;",
    )
    # net change per (label, state): an UPDATE that leaves the state alone adds nothing
    _pg_function(
        f"{table}_counts_update",
        f"{put} SELECT '{family}', x, y, 0, sum(k), 0 FROM ("
        f"SELECT {label} AS x, state AS y, -1 AS k FROM old_rows "
        f"UNION ALL SELECT {label}, state, 1 FROM new_rows) t GROUP BY x, y HAVING sum(k) <> 0;",
    )
    _pg_function(
        f"{table}_counts_delete",
        f"{put} SELECT '{family}', {label}, state, 0, -count(*), 0 FROM old_rows GROUP BY {label}, state;",
    )
    _pg_function(
        f"{table}_counts_truncate",
        f"DELETE FROM counters WHERE family = '{family}'; DELETE FROM counter_deltas WHERE family = '{family}';",
    )
    for event, refs in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER {table}_counts_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {table}_counts_{event.lower()}()"
        )
    op.execute(
        f"CREATE TRIGGER {table}_counts_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_counts_truncate()"
    )


def _postgres_triggers() -> None:
    _pg_state_family("deliveries", "delivery", "channel")
    _pg_state_family("items", "item", "type")
    # attempts are appended, never changed (retention); a deleted delivery takes its attempts
    # with it only by an explicit DELETE, which the delete trigger counts
    bucket = _bucket("t.duration_ms")
    put = "INSERT INTO counter_deltas (family, a, b, c, n, total) "
    _pg_function(
        "attempts_counts_insert",
        f"{put} SELECT 'attempt', d.channel, t.outcome, {bucket}, count(*), sum(t.duration_ms) "
        f"FROM new_rows t JOIN deliveries d ON d.id = t.delivery_id GROUP BY d.channel, t.outcome, {bucket};",
    )
    _pg_function(
        "attempts_counts_delete",
        f"{put} SELECT 'attempt', d.channel, t.outcome, {bucket}, -count(*), -sum(t.duration_ms) "
        f"FROM old_rows t JOIN deliveries d ON d.id = t.delivery_id GROUP BY d.channel, t.outcome, {bucket};",
    )
    _pg_function(
        "attempts_counts_truncate",
        "DELETE FROM counters WHERE family = 'attempt'; DELETE FROM counter_deltas WHERE family = 'attempt';",
    )
    for event, refs in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(
            f"CREATE TRIGGER attempts_counts_{event.lower()} AFTER {event} ON attempts "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION attempts_counts_{event.lower()}()"
        )
    op.execute(
        "CREATE TRIGGER attempts_counts_truncate AFTER TRUNCATE ON attempts "
        "FOR EACH STATEMENT EXECUTE FUNCTION attempts_counts_truncate()"
    )


# -- SQLite ----------------------------------------------------------------------------------
def _add(family: str, a: str, b: str, c: str, n: str, total: str = "0") -> str:
    return (
        f"INSERT INTO counters (family, a, b, c, n, total) VALUES ('{family}', {a}, {b}, {c}, {n}, {total}) "
        "ON CONFLICT (family, a, b, c) DO UPDATE SET n = n + excluded.n, total = total + excluded.total;"
    )


def _sqlite_triggers() -> None:
    for table, family, label in (("deliveries", "delivery", "channel"), ("items", "item", "type")):
        op.execute(
            f"CREATE TRIGGER {table}_counts_insert AFTER INSERT ON {table} BEGIN "
            f"{_add(family, f'NEW.{label}', 'NEW.state', '0', '1')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_counts_update AFTER UPDATE OF state, {label} ON {table} "
            f"WHEN OLD.state IS NOT NEW.state OR OLD.{label} IS NOT NEW.{label} BEGIN "
            f"{_add(family, f'OLD.{label}', 'OLD.state', '0', '-1')} "
            f"{_add(family, f'NEW.{label}', 'NEW.state', '0', '1')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_counts_delete AFTER DELETE ON {table} BEGIN "
            f"{_add(family, f'OLD.{label}', 'OLD.state', '0', '-1')} END"
        )
    channel = "(SELECT channel FROM deliveries WHERE id = {}.delivery_id)"
    op.execute(
        "CREATE TRIGGER attempts_counts_insert AFTER INSERT ON attempts BEGIN "
        f"{_add('attempt', channel.format('NEW'), 'NEW.outcome', _bucket('NEW.duration_ms'), '1', 'NEW.duration_ms')} END"
    )
    op.execute(
        "CREATE TRIGGER attempts_counts_delete AFTER DELETE ON attempts BEGIN "
        f"{_add('attempt', channel.format('OLD'), 'OLD.outcome', _bucket('OLD.duration_ms'), '-1', '-OLD.duration_ms')} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("deliveries", "items", "attempts"):
            for event in ("insert", "update", "delete", "truncate"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_counts_{event} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {table}_counts_{event}()")
    else:
        for table in ("deliveries", "items", "attempts"):
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_counts_{event}")
    op.drop_table("counter_deltas")
    op.drop_table("counters")
