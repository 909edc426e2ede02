"""Raise each compliance alert once, recorded in the transaction that marks it raised.

Periodic checks (deadlines, inspection, consultations) run inside a caller's transaction. An
alert is announced through `publisher.observe.events` only when the mark that says "raised" is
committed with it: a rolled-back check announces nothing, and the next run announces it then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher.alerting.record import record
from publisher.domain.clock import utcnow
from publisher.observe import events
from publisher.store.models import AlertMark

_PENDING = "compliance.pending_events"


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for name, data in pending:
        events.emit(name, data)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def emit_after_commit(session: Session, name: str, data: dict[str, Any]) -> None:
    """Record the alert in this transaction (publisher/alerting/: it is sent by the alert clock
    whichever process runs the check, the CLI included) and announce it after commit."""
    record(session, name, data)
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", lambda s, _tx: _after_rollback(s))
    session.info.setdefault(_PENDING, []).append((name, data))


def raise_once(session: Session, kind: str, key: str, data: dict[str, Any]) -> bool:
    """Mark (kind, key) raised and queue the event; False when it was raised before."""
    key = key[:200]
    found = session.execute(
        select(AlertMark.key).where(AlertMark.kind == kind, AlertMark.key == key)
    ).scalar_one_or_none()
    if found is not None:
        return False
    try:
        with session.begin_nested():  # two checkers racing on PostgreSQL: one of them raises it
            session.add(AlertMark(kind=kind, key=key, at=utcnow()))
    except IntegrityError:
        return False
    emit_after_commit(session, kind, data)
    return True
