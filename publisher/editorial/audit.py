"""Append-only, hash-chained audit log.

Each event's hash covers its own fields and the previous event's hash, and `seq` has no
gaps, so editing a row breaks its hash, deleting one breaks the chain or leaves a gap, and
cutting the tail disagrees with `audit_head`. Appenders lock the head row: the chain never
forks even with many writers on PostgreSQL; the lock is taken last in each transaction so
it is held only until commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import BindParameter, bindparam, select, text
from sqlalchemy.orm import Session

from publisher.domain.clock import utcnow
from publisher.store.models import AuditEvent, AuditHead, JSONType, UTCDateTime

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "at": ev.at.isoformat(),
        "actor": ev.actor,
        "action": ev.action,
        "item_uid": ev.item_uid,
        "version_hash": ev.version_hash,
        "reason": ev.reason,
        "data": ev.data,
    }


def hashed_text_parts(fields: dict[str, Any]) -> tuple[str, str]:
    """`canonical(fields)` split around the value of `seq`, which only the database knows when
    the event is written. `seq` and `version_hash` sort last among an event's keys, so the
    text is the other fields' canonical form, then `"seq":N`, then `version_hash`."""
    rest = {k: v for k, v in fields.items() if k not in ("seq", "version_hash")}
    pre = canonical(rest)[:-1] + ',"seq":'
    post = ',"version_hash":' + canonical(fields.get("version_hash")) + "}"
    return pre, post


def append_sql(dialect: str, prefix: str = "") -> str:
    """The one statement that appends an event, its parameters named `prefix` + field (see
    `event_params`). It reads the head under its row lock (FOR UPDATE on PostgreSQL; SQLite
    writers hold the database lock), takes the next seq and the previous hash from it, and
    has the database hash the event's canonical text around that seq: PostgreSQL with its
    own `sha256`, SQLite with `publisher_sha256` (registered on each connection by
    `publisher.store.db`). The audit_head_follows trigger (migration 0006) then moves the head to
    the new event. `publisher.store.outbox` runs it inside an approval's single statement."""
    hashed = f"h.hash || :{prefix}pre || CAST(h.seq + 1 AS VARCHAR) || :{prefix}post"
    if dialect == "postgresql":
        digest, lock = f"encode(sha256(convert_to({hashed}, 'UTF8')), 'hex')", " FOR UPDATE"
    else:
        digest, lock = f"publisher_sha256({hashed})", ""
    values = ", ".join(
        f":{prefix}{name}" for name in ("at", "actor", "action", "item_uid", "version_hash", "reason", "data")
    )
    return (
        "INSERT INTO audit_events (seq, at, actor, action, item_uid, version_hash, reason, data, prev_hash, hash) "
        f"SELECT h.seq + 1, {values}, h.hash, {digest} FROM audit_head h WHERE h.id = 1{lock}"
    )


def typed_params(prefix: str = "") -> list[BindParameter[Any]]:
    """The parameters of `append_sql` that need the store's types (time and JSON)."""
    return [bindparam(f"{prefix}at", type_=UTCDateTime()), bindparam(f"{prefix}data", type_=JSONType)]


APPEND = {
    dialect: text(append_sql(dialect)).bindparams(*typed_params()) for dialect in ("postgresql", "sqlite")
}


class EventFields(TypedDict, total=False):
    """What an event says; the database adds seq, the previous hash and its own hash."""

    actor: Required[str]
    action: Required[str]
    item_uid: str | None
    version_hash: str | None
    reason: str | None
    data: dict[str, Any] | None


def event_params(**event: Unpack[EventFields]) -> dict[str, Any]:
    """The parameters of `append_sql` for one event."""
    at = utcnow()
    fields: dict[str, Any] = {"item_uid": None, "version_hash": None, "reason": None, "data": None, **event}
    pre, post = hashed_text_parts({**fields, "at": at.isoformat()})
    return {**fields, "at": at, "pre": pre, "post": post}


def append(session: Session, **event: Unpack[EventFields]) -> None:
    """Append one event. One prebuilt statement: this runs in every transition."""
    session.flush()  # everything else first: the head lock below is then held only until commit
    conn = session.connection()
    conn.execute(APPEND[conn.dialect.name], event_params(**event))


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    problem: str


def verify(session: Session, batch: int = 5000) -> tuple[int, list[AuditProblem]]:
    """Walk the chain; returns (events checked, problems found)."""
    problems: list[AuditProblem] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for ev in _iter_events(session, batch):
        count += 1
        if ev.seq != expected_seq:
            problems.append(
                AuditProblem(expected_seq, f"events {expected_seq}..{ev.seq - 1} are missing (deleted)")
            )
        if ev.prev_hash != prev_hash:
            problems.append(
                AuditProblem(ev.seq, "link to the previous event is broken (an event was deleted or edited)")
            )
        if event_hash(ev.prev_hash, _fields(ev)) != ev.hash:
            problems.append(AuditProblem(ev.seq, "contents do not match the hash (the event was edited)"))
        prev_hash, expected_seq = ev.hash, ev.seq + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        problems.append(AuditProblem(0, "the chain head is missing"))
    elif head.seq != expected_seq - 1 or head.hash != prev_hash:
        problems.append(
            AuditProblem(
                head.seq, f"the chain ends at {expected_seq - 1} but its head says {head.seq} (events cut)"
            )
        )
    return count, problems


def _iter_events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()
