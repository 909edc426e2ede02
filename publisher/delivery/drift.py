"""Drift records: what post-publication inspection found different in a live copy, as ledger
facts about one delivery.

    (inspection finds a difference) ─▶ open ──(a later inspection finds it right)──▶ cleared
                                         ├──(ops re-push the version)────────────────▶ repushed
                                         └──(ops accept it, with a reason)───────────▶ accepted

One record per (delivery, kind, subject): an inspection that finds the same difference again
only moves `last_seen_at`; an accepted one is never raised again for that delivery (a newer
version is a new delivery, inspected afresh). A new record is audited (`delivery.drift`)
and raised as the `inspection.drift` alert (grouped per channel by the alert clock) in the
same transaction; acceptance is audited (`delivery.drift_accept`) with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from publisher.alerting.record import record as record_alert
from publisher.domain.actions import AuditAction
from publisher.domain.errors import NotFoundError, TransitionError
from publisher.editorial import audit
from publisher.store.models import Drift, Item


class DriftKind(StrEnum):
    MISSING = "missing"  # the channel has no trace of the copy
    UNPUBLISHED = "unpublished"  # there, but not public (trashed, banned, revoked, a draft)
    STALE = "stale"  # public, but another version or validity, or edited by hand
    LINK_DEAD = "link_dead"  # an outbound link of the body does not answer (4xx/5xx, refused, down)
    LINK_MOVED = "link_moved"  # an outbound link now redirects to another site


LABELS = {
    DriftKind.MISSING: "副本不存在 / copy missing",
    DriftKind.UNPUBLISHED: "副本未公开 / copy not public",
    DriftKind.STALE: "副本内容不符 / copy differs",
    DriftKind.LINK_DEAD: "外链失效 / dead link",
    DriftKind.LINK_MOVED: "外链跳转到其他网站 / link moved to another site",
}
COPY_KINDS = frozenset({DriftKind.MISSING, DriftKind.UNPUBLISHED, DriftKind.STALE})
LINK_KINDS = frozenset({DriftKind.LINK_DEAD, DriftKind.LINK_MOVED})


class Resolution(StrEnum):
    CLEARED = "cleared"
    REPUSHED = "repushed"
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"  # a newer delivery replaced the copy, or a withdrawal removed it


@dataclass(frozen=True)
class Finding:
    """One difference an inspection found in one copy."""

    kind: DriftKind
    expected: str
    found: str
    subject: str = ""  # "" for the copy itself, the URL for a link


@dataclass(frozen=True)
class Copy:
    """A live copy being recorded: its delivery, item and channel."""

    delivery_id: int
    item_id: int
    uid: str
    channel: str


def record(
    session: Session, copy: Copy, findings: Sequence[Finding], checked: Iterable[DriftKind], now: datetime
) -> list[Finding]:
    """Store what one inspection of `copy` found: new drifts opened (audited, alerted), known
    ones seen again, open ones of the kinds `checked` that were not found again cleared.
    Returns the findings that opened a new record."""
    checked = set(checked)
    rows = (
        session.execute(
            select(Drift).where(
                Drift.delivery_id == copy.delivery_id,
                or_(Drift.resolved_at.is_(None), Drift.resolution == Resolution.ACCEPTED),
            )
        )
        .scalars()
        .all()
    )
    open_ = {(r.kind, r.subject): r for r in rows if r.resolved_at is None}
    accepted = {(r.kind, r.subject) for r in rows if r.resolution == Resolution.ACCEPTED}
    seen: set[tuple[str, str]] = set()
    new: list[Finding] = []
    for f in findings:
        key = (f.kind.value, f.subject[:1000])
        seen.add(key)
        if key in accepted:
            continue
        if (row := open_.get(key)) is not None:
            row.last_seen_at, row.found = now, f.found
            continue
        session.add(
            Drift(
                delivery_id=copy.delivery_id,
                item_id=copy.item_id,
                channel=copy.channel,
                kind=f.kind.value,
                subject=key[1],
                expected=f.expected,
                found=f.found,
                detected_at=now,
                last_seen_at=now,
            )
        )
        new.append(f)
        data: dict[str, Any] = {
            "channel": copy.channel,
            "delivery": copy.delivery_id,
            "kind": f.kind.value,
            "expected": f.expected,
            "found": f.found,
        }
        if f.subject:
            data["url"] = f.subject
        audit.append(session, actor="system", action=AuditAction.DELIVERY_DRIFT, item_uid=copy.uid, data=data)
        record_alert(session, "inspection.drift", {**data, "uid": copy.uid, "error": f"{f.kind}: {f.found}"})
    for key, row in open_.items():
        if key not in seen and row.kind in checked:
            row.resolved_at, row.resolution, row.resolved_by = now, Resolution.CLEARED.value, "system"
    return new


def resolve_repushed(session: Session, delivery_id: int, actor: str, now: datetime) -> int:
    """Every open drift of a re-pushed delivery: the next inspection of the new copy decides."""
    result = session.execute(
        update(Drift)
        .where(Drift.delivery_id == delivery_id, Drift.resolved_at.is_(None))
        .values(resolved_at=now, resolution=Resolution.REPUSHED.value, resolved_by=actor[:64])
    )
    return int(getattr(result, "rowcount", 0))


def accept(session: Session, drift_id: int, actor: str, reason: str, now: datetime) -> Drift:
    """Ops accept an open drift (the copy stays as it is); audited with the reason."""
    row = session.get(Drift, drift_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"未找到偏差记录 {drift_id} / drift not found")
    if row.resolved_at is not None:
        raise TransitionError(
            f"偏差记录已处理（{row.resolution}）/ drift already resolved ({row.resolution})",
            str(row.resolution),
        )
    row.resolved_at, row.resolution, row.resolved_by = now, Resolution.ACCEPTED.value, actor[:64]
    row.accepted_by, row.reason = actor[:64], reason
    uid = session.execute(select(Item.uid).where(Item.id == row.item_id)).scalar_one()
    audit.append(
        session,
        actor=actor,
        action=AuditAction.DELIVERY_DRIFT_ACCEPT,
        item_uid=uid,
        reason=reason,
        data={"channel": row.channel, "delivery": row.delivery_id, "drift": row.id, "kind": row.kind},
    )
    return row


def as_dict(row: Drift, uid: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "delivery": row.delivery_id,
        "item": uid,
        "channel": row.channel,
        "kind": row.kind,
        "label": LABELS.get(DriftKind(row.kind), row.kind)
        if row.kind in DriftKind._value2member_map_
        else row.kind,
        "subject": row.subject or None,
        "expected": row.expected,
        "found": row.found,
        "detected_at": row.detected_at.isoformat(),
        "last_seen_at": row.last_seen_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution": row.resolution,
        "resolved_by": row.resolved_by,
        "accepted_by": row.accepted_by,
        "reason": row.reason,
    }
