"""Writing a transition's frozen version and its queued deliveries (the outbox), and for an
approval the item's release columns, inside the transition's own transaction.

This is the approval's hot path, so each engine gets the statements it runs fastest:
- PostgreSQL: one statement. Data-modifying CTEs insert the version, insert one delivery per
  channel from arrays (`unnest`), update the item and append the audit event. Every round
  trip saved is a large share of an approval there, and the approval holds the index
  counter's row lock from the statement before this one until its commit: concurrent
  approvals queue on that lock, so the shorter the hold, the shorter their queue.
- SQLite: the version (its id by lastrowid), the deliveries by executemany, and the item
  update, which returns the deliveries' ids (a plain SELECT reads them where there is no item
  update). SQLite runs the multi-row VALUES that RETURNING several rows needs at about twice
  the cost of the same rows one by one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import TextClause, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from publisher.domain.item import DeliveryState
from publisher.store import auditlog
from publisher.store.models import Delivery, Item, ItemVersion, JSONType, UTCDateTime


@dataclass(frozen=True)
class Planned:
    """One delivery to write: its channel, its key and the delivery it must wait for."""

    channel: str
    key: str
    after: int | None = None


class Written(NamedTuple):
    """What `write` wrote: the version's id, {channel: delivery id} and, given an event, its
    (seq, hash) for the caller to seal with the audit key (`publisher.editorial.audit.seal`)."""

    version_id: int
    deliveries: dict[str, int]
    event: tuple[int, str] | None


# -- PostgreSQL: one statement -------------------------------------------------------------

_PG_VERSION_AND_DELIVERIES = """
WITH v AS (
    INSERT INTO item_versions (item_id, number, content, content_hash, reason, created_by, created_at)
    VALUES (:item_id, :number, :content, :content_hash, :reason, :created_by, :created_at)
    RETURNING id
), d AS (
    INSERT INTO deliveries (item_id, version_id, channel, operation, state, key, after_delivery_id,
                            attempts, next_attempt_at, created_at, updated_at)
    SELECT :item_id, v.id, c.channel, :operation, :state, c.key, c.after_id, 0, :due_at, :now, :now
    FROM v CROSS JOIN unnest(CAST(:channels AS varchar[]), CAST(:keys AS varchar[]),
                             CAST(:afters AS bigint[])) AS c(channel, key, after_id)
    RETURNING channel, id
)"""
_PG_RELEASE = """, r AS (
    UPDATE items SET index_number = :r_index_number, live_version = :r_live_version, state = :r_state,
                     published_at = :r_published_at, updated_at = :r_updated_at
    WHERE id = :item_id
)"""
_PG_RESULT = " SELECT v.id AS version_id, d.channel, d.id AS delivery_id FROM v LEFT JOIN d ON true"
# with the audit event: its seq and hash too (one row), for the keyed hash (audit.seal)
_PG_RESULT_EVENT = (
    " SELECT v.id AS version_id, d.channel, d.id AS delivery_id, a.seq AS a_seq, a.hash AS a_hash"
    " FROM v LEFT JOIN d ON true CROSS JOIN a"
)


@functools.cache
def _pg_statement(release: bool, event: bool) -> TextClause:
    sql = _PG_VERSION_AND_DELIVERIES
    binds = [bindparam("content", type_=JSONType)] + [
        bindparam(t, type_=UTCDateTime()) for t in ("created_at", "due_at", "now")
    ]
    if release:
        sql += _PG_RELEASE
        binds += [bindparam(t, type_=UTCDateTime()) for t in ("r_published_at", "r_updated_at")]
    if event:
        # last: the audit head's lock is then taken at the very end, as audit.append does
        sql += f", a AS ({auditlog.append_sql('postgresql', 'a_')})"
        binds += auditlog.typed_params("a_")
    return text(sql + (_PG_RESULT_EVENT if event else _PG_RESULT)).bindparams(*binds)


# -- SQLite: prebuilt Core statements --------------------------------------------------------

_VERSION = insert(ItemVersion)
_DELIVERIES = insert(Delivery)
_DELIVERY_IDS = select(Delivery.channel, Delivery.id).where(
    Delivery.version_id == bindparam("version_id"), Delivery.operation == bindparam("operation")
)
_RELEASE = (
    update(Item)
    .where(Item.id == bindparam("b_id"))
    .values(
        index_number=bindparam("b_index_number"),
        live_version=bindparam("b_live_version"),
        state=bindparam("b_state"),
        published_at=bindparam("b_published_at"),
        updated_at=bindparam("b_updated_at"),
    )
    .returning(
        select(func.json_group_object(Delivery.channel, Delivery.id))
        .where(Delivery.version_id == bindparam("version_id"), Delivery.operation == bindparam("operation"))
        .scalar_subquery()
    )
)


def write(
    session: Session,
    version: dict[str, Any],
    operation: str,
    planned: list[Planned],
    *,
    due_at: datetime,
    now: datetime,
    release: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
) -> Written:
    """Insert the version (`version`: its column values), one queued delivery per planned
    channel, due at `due_at`; given `release` (index_number, live_version, state,
    published_at, updated_at), update the item's release columns; given `event`
    (`audit.event_params`), append that audit event last. Returns what it wrote (`Written`);
    an event's keyed hash is the caller's to store, in the same transaction."""
    if event is not None:
        session.flush()  # as audit.append does: the audit head's lock is the last one taken
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params = {
            **version,
            "operation": operation,
            "state": DeliveryState.QUEUED.value,
            "due_at": due_at,
            "now": now,
            "channels": [p.channel for p in planned],
            "keys": [p.key for p in planned],
            "afters": [p.after for p in planned],
        }
        if release is not None:
            params.update({f"r_{k}": v for k, v in release.items()})
        if event is not None:
            params.update({f"a_{k}": v for k, v in event.items()})
        rows = conn.execute(_pg_statement(release is not None, event is not None), params).all()
        return Written(
            rows[0].version_id,
            {r.channel: r.delivery_id for r in rows if r.channel is not None},
            (rows[0].a_seq, rows[0].a_hash) if event is not None else None,
        )

    key = conn.execute(_VERSION, version).inserted_primary_key  # lastrowid: no RETURNING
    assert key is not None
    version_id = int(key[0])
    if planned:
        conn.execute(
            _DELIVERIES,
            [
                dict(
                    item_id=version["item_id"],
                    version_id=version_id,
                    channel=p.channel,
                    operation=operation,
                    state=DeliveryState.QUEUED.value,
                    key=p.key,
                    after_delivery_id=p.after,
                    attempts=0,
                    next_attempt_at=due_at,
                    created_at=now,
                    updated_at=now,
                )
                for p in planned
            ],
        )
    ids_of = {"version_id": version_id, "operation": operation}
    written: Iterable[tuple[str, int]] = ()
    if release is not None:
        # the item's UPDATE brings the new deliveries' ids back with it: one statement fewer
        found = conn.execute(
            _RELEASE, {"b_id": version["item_id"], **ids_of, **{f"b_{k}": v for k, v in release.items()}}
        ).scalar_one()
        written = json.loads(found).items() if found else ()
    elif planned:
        written = conn.execute(_DELIVERY_IDS, ids_of).tuples()
    appended = auditlog.append(conn, event) if event is not None else None
    # (an IN list of the channels would have SQLAlchemy render the statement anew each time)
    wanted = {p.channel for p in planned}
    return Written(version_id, {channel: did for channel, did in written if channel in wanted}, appended)
