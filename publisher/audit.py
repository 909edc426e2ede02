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
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .clock import utcnow
from .models import AuditEvent, AuditHead

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


# Built once: statement construction and cache-key generation cost more than the SQL here.
_HEAD_NEXT = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=AuditHead.seq + 1)
    .returning(AuditHead.seq, AuditHead.hash)
    .execution_options(synchronize_session=False)
)
_EVENT_INSERT = insert(AuditEvent)


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    item_uid: str | None = None,
    version_hash: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """Append one event and return its hash. Core statements: this runs in every transition."""
    session.flush()  # everything else first: the head lock below is then held only until commit
    # Incrementing the head takes its row lock and reads the previous hash in one statement.
    conn = session.connection()
    seq, prev_hash = conn.execute(_HEAD_NEXT).one()
    fields = {
        "seq": seq,
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "item_uid": item_uid,
        "version_hash": version_hash,
        "reason": reason,
        "data": data,
    }
    digest = event_hash(prev_hash, {**fields, "at": fields["at"].isoformat()})
    # the audit_head_follows trigger (migration 0005) records the new tip in the head row
    conn.execute(_EVENT_INSERT, {**fields, "prev_hash": prev_hash, "hash": digest})
    return digest


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
            problems.append(AuditProblem(expected_seq, f"events {expected_seq}..{ev.seq - 1} are missing (deleted)"))
        if ev.prev_hash != prev_hash:
            problems.append(AuditProblem(ev.seq, "link to the previous event is broken (an event was deleted or edited)"))
        if event_hash(ev.prev_hash, _fields(ev)) != ev.hash:
            problems.append(AuditProblem(ev.seq, "contents do not match the hash (the event was edited)"))
        prev_hash, expected_seq = ev.hash, ev.seq + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        problems.append(AuditProblem(0, "the chain head is missing"))
    elif head.seq != expected_seq - 1 or head.hash != prev_hash:
        problems.append(AuditProblem(head.seq, f"the chain ends at {expected_seq - 1} but its head says {head.seq} (events cut)"))
    return count, problems


def _iter_events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()
