"""public counts: released items per type, and policies per publication year, validity change
and withdrawal, kept by triggers like 0008's families

Revision ID: 0017
Revises: 0016

Two more families in `counters`, so the public home page and the annual report cost the
number of types and years, not the archive (both were COUNT(*) or a load of every policy):

    released  a=type                 b=''                          c=0
              items the public sees: live_version and published_at set, not withdrawn
    policy    a=publication year      b='<validity>|<year of change>'  c=1 if withdrawn
              every policy; the year is Asia/Shanghai's ('' while unpublished), the change
              year is validity_changed_on's ('' when none)

The publication year is local: PostgreSQL converts with the time zone; SQLite adds eight hours
(Shanghai has kept UTC+8 without daylight saving since 1991) to the timestamp cut to whole
seconds (SQLite rounds fractions to milliseconds, which would carry 23:59:59.9995 into the
next year). Same shape of triggers as 0008: statement-level deltas on PostgreSQL, row
triggers updating `counters` on SQLite; the backfill runs under the lock that keeps writers out.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _released(p: str) -> str:
    """The public sees the row (the rule of `publisher.editorial.public`)."""
    return f"{p}live_version IS NOT NULL AND {p}published_at IS NOT NULL AND {p}state <> 'withdrawn'"


def _keys(rows: str, k: str, year: str, prefix: str = "") -> str:
    """(family, a, b, c, k) of each row of `rows` ('' for SQLite's NEW/OLD, where `prefix` names
    the row), as a UNION ALL of the two families."""
    p = prefix
    source = f" FROM {rows}" if rows else ""
    return (
        f"SELECT 'released' AS f, {p}type AS a, '' AS b, 0 AS c, {k} AS k{source} WHERE {_released(p)} "
        f"UNION ALL SELECT 'policy', COALESCE({year}, ''), "
        f"{p}validity || '|' || COALESCE(substr({p}validity_changed_on, 1, 4), ''), "
        f"CASE WHEN {p}state = 'withdrawn' THEN 1 ELSE 0 END, {k}{source} WHERE {p}type = 'policy'"
    )


PG_YEAR = "to_char((published_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai', 'YYYY')"


def _sqlite_year(p: str) -> str:
    return f"strftime('%Y', substr({p}published_at, 1, 19), '+8 hours')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE")
        _postgres_triggers()
        keys = _keys("items", "1", PG_YEAR)
    else:
        _sqlite_triggers()
        keys = _keys("items", "1", _sqlite_year(""))
    op.execute(
        "INSERT INTO counters (family, a, b, c, n, total) "
        f"SELECT f, a, b, c, sum(k), 0 FROM ({keys}) t GROUP BY f, a, b, c"
    )


def _postgres_triggers() -> None:
    put = "INSERT INTO counter_deltas (family, a, b, c, n, total) "
    bodies = {
        "insert": f"{put} SELECT f, a, b, c, sum(k), 0 FROM ({_keys('new_rows', '1', PG_YEAR)}) t GROUP BY f, a, b, c;",
        # net change per key: an UPDATE that moves nothing the families count adds nothing
        "update": (
            f"{put} SELECT f, a, b, c, sum(k), 0 FROM ({_keys('old_rows', '-1', PG_YEAR)} "
            f"UNION ALL {_keys('new_rows', '1', PG_YEAR)}) t GROUP BY f, a, b, c HAVING sum(k) <> 0;"
        ),
        "delete": f"{put} SELECT f, a, b, c, sum(k), 0 FROM ({_keys('old_rows', '-1', PG_YEAR)}) t GROUP BY f, a, b, c;",
        "truncate": (
            "DELETE FROM counters WHERE family IN ('released', 'policy'); "
            "DELETE FROM counter_deltas WHERE family IN ('released', 'policy');"
        ),
    }
    for event, body in bodies.items():
        op.execute(
            f"CREATE FUNCTION items_public_counts_{event}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {body} RETURN NULL; END $$"
        )
    for event, refs in (
        ("insert", "REFERENCING NEW TABLE AS new_rows"),
        ("update", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "REFERENCING OLD TABLE AS old_rows"),
        ("truncate", ""),
    ):
        op.execute(
            f"CREATE TRIGGER items_public_counts_{event} AFTER {event.upper()} ON items {refs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION items_public_counts_{event}()"
        )


def _sqlite_upsert(row: str, k: str) -> str:
    keys = _keys("", k, _sqlite_year(f"{row}."), prefix=f"{row}.")
    # SQLite's upsert after a SELECT needs its WHERE (each part has one) to parse
    return (
        f"INSERT INTO counters (family, a, b, c, n, total) SELECT f, a, b, c, k, 0 FROM ({keys}) WHERE true "
        "ON CONFLICT (family, a, b, c) DO UPDATE SET n = n + excluded.n;"
    )


def _sqlite_triggers() -> None:
    op.execute(
        f"CREATE TRIGGER items_public_counts_insert AFTER INSERT ON items BEGIN {_sqlite_upsert('NEW', '1')} END"
    )
    op.execute(
        "CREATE TRIGGER items_public_counts_update AFTER UPDATE OF "
        "type, state, live_version, published_at, validity, validity_changed_on ON items BEGIN "
        f"{_sqlite_upsert('OLD', '-1')} {_sqlite_upsert('NEW', '1')} END"
    )
    op.execute(
        f"CREATE TRIGGER items_public_counts_delete AFTER DELETE ON items BEGIN {_sqlite_upsert('OLD', '-1')} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS items_public_counts_{event} ON items")
            op.execute(f"DROP FUNCTION IF EXISTS items_public_counts_{event}()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS items_public_counts_{event}")
    op.execute("DELETE FROM counters WHERE family IN ('released', 'policy')")
    op.execute("DELETE FROM counter_deltas WHERE family IN ('released', 'policy')")
