"""The audit chain's append: one INSERT … SELECT per event, per dialect.

The statement reads the chain head under its row lock (FOR UPDATE on PostgreSQL; SQLite
writers hold the database lock), takes the next seq and the previous hash from it, and has
the database hash the event's canonical text around that seq: PostgreSQL with its own
`sha256`, SQLite with `publisher_sha256` (registered on each connection by
`publisher.store.db`). The audit_head_follows trigger (migration 0006) then moves the head to
the new event. What the hashed text is, and the keyed hash beside it, belong to
`publisher.editorial.audit`; this module only knows that the text is `pre`, the seq, `post`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Connection, TextClause, bindparam, text

from publisher.store.models import JSONType, UTCDateTime

# the event's own columns, bound as `prefix` + name; `pre` and `post` wrap the seq in the hash
FIELDS = ("at", "actor", "action", "item_uid", "version_hash", "reason", "data")


def append_sql(dialect: str, prefix: str = "") -> str:
    """The one statement that appends an event, its parameters named `prefix` + each of
    `FIELDS`, `pre` and `post`; it returns the new event's seq and hash.
    `publisher.store.outbox` runs it as the last CTE of an approval's single statement."""
    hashed = f"h.hash || :{prefix}pre || CAST(h.seq + 1 AS VARCHAR) || :{prefix}post"
    if dialect == "postgresql":
        digest, lock = f"encode(sha256(convert_to({hashed}, 'UTF8')), 'hex')", " FOR UPDATE"
    else:
        digest, lock = f"publisher_sha256({hashed})", ""
    values = ", ".join(f":{prefix}{name}" for name in FIELDS)
    return (
        "INSERT INTO audit_events (seq, at, actor, action, item_uid, version_hash, reason, data, prev_hash, hash) "
        f"SELECT h.seq + 1, {values}, h.hash, {digest} FROM audit_head h WHERE h.id = 1{lock}"
        " RETURNING seq, hash"
    )


def typed_params(prefix: str = "") -> list[BindParameter[Any]]:
    """The parameters of `append_sql` that need the store's types (time and JSON)."""
    return [bindparam(f"{prefix}at", type_=UTCDateTime()), bindparam(f"{prefix}data", type_=JSONType)]


APPEND: dict[str, TextClause] = {
    dialect: text(append_sql(dialect)).bindparams(*typed_params()) for dialect in ("postgresql", "sqlite")
}


def append(conn: Connection, params: dict[str, Any]) -> tuple[int, str]:
    """Append one event (`params`: each of `FIELDS`, `pre` and `post`) as the last write of
    the caller's transaction; returns its seq and hash. One prebuilt statement: this runs in
    every transition."""
    seq, hash = conn.execute(APPEND[conn.dialect.name], params).one()
    return int(seq), str(hash)
