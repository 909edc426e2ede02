"""Statutory deadlines: active disclosure within 20 working days of the information being
formed or changed (2019 Regulation, art. 26).

Every actively disclosed item has a *content* clock that starts on its `formed_at` (default:
its issue date) and, once its validity changed (废止/失效/修订), a *validity* clock that starts
on the date of that change. A clock is met when a version carrying that information went
live; otherwise it is open, at risk (≤ 5 working days left), or overdue. Clocks are derived
from the items each time, never stored, so loading an official calendar recomputes every
due date at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from publisher.compliance.alerts import raise_once
from publisher.compliance.calendar import ScheduleFile, WorkCalendar, store_schedule
from publisher.compliance.config import ComplianceSettings
from publisher.domain.clock import local
from publisher.domain.item import Disclosure, ItemState, Validity
from publisher.store.models import Item, ItemVersion

CONTENT = "content"
VALIDITY = "validity"

STATUS_LABELS = {
    "open": "未到期",
    "at_risk": "即将到期",
    "overdue": "已逾期",
    "met": "按时公开",
    "met_late": "逾期公开",
}


@dataclass(frozen=True)
class Deadline:
    uid: str
    ref: str | None
    title: str
    type: str
    clock: str  # content | validity
    started_on: date
    due_on: date
    provisional: bool
    status: str
    working_days_left: int | None  # open clocks only; negative when overdue
    met_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_on"] = self.started_on.isoformat()
        data["due_on"] = self.due_on.isoformat()
        data["met_at"] = self.met_at.isoformat() if self.met_at else None
        data["status_label"] = STATUS_LABELS[self.status]
        return data


def _formed(formed_at: str | None, issue_date: str) -> date:
    """When the information was formed (形成日期): its own date, else the issue date."""
    return date.fromisoformat(formed_at or issue_date)


class _ItemFacts(NamedTuple):
    """The columns a clock needs: read with JSON paths, so bodies are never loaded."""

    id: int
    uid: str
    ref: str | None
    title: str
    type: str
    state: str
    validity: str
    validity_changed_on: str | None
    abolished_by: str | None
    published_at: datetime | None
    publish_at: datetime | None
    live_version: int | None
    formed_at: str | None
    issue_date: str
    disclosure: str | None


class _VersionFacts(NamedTuple):
    item_id: int
    number: int
    reason: str
    created_at: datetime
    formed_at: str | None
    issue_date: str
    validity_changed_on: str | None


# A published item's working copy is its live version (an edit takes it back to draft) and
# every version of it is out, so its clocks are settled (met or met late) — unless it was
# abolished by a notice that is not out yet. The other states are the few in the works.
UNSETTLED = tuple(s.value for s in ItemState if s not in (ItemState.PUBLISHED, ItemState.WITHDRAWN))


def _item_facts(session: Session, uid: str | None, *, open_only: bool = False) -> list[_ItemFacts]:
    c = Item.content
    stmt = select(
        Item.id,
        Item.uid,
        Item.ref,
        Item.title,
        Item.type,
        Item.state,
        Item.validity,
        Item.validity_changed_on,
        Item.abolished_by,
        Item.published_at,
        Item.publish_at,
        Item.live_version,
        c["formed_at"].as_string(),
        c["issue_date"].as_string(),
        c["disclosure"].as_string(),
    ).where(Item.state != ItemState.WITHDRAWN)
    if uid is not None:
        stmt = stmt.where(Item.uid == uid)
    if open_only:
        # the periodic check reads only items whose clocks can still be open (ix_items_state,
        # ix_items_abolished_by), not the archive: its cost follows the work in progress. A
        # union of the two, not an OR: SQLite answers the OR with a scan of every item
        open_ids = union(
            select(Item.id).where(Item.state.in_(UNSETTLED)),
            select(Item.id).where(Item.abolished_by.is_not(None)),
        )
        stmt = stmt.where(Item.id.in_(open_ids))
    return [_ItemFacts(*row) for row in session.execute(stmt.order_by(Item.id))]


def _version_facts(session: Session, item_ids: list[int]) -> dict[int, list[_VersionFacts]]:
    out: dict[int, list[_VersionFacts]] = defaultdict(list)
    c = ItemVersion.content
    for start in range(0, len(item_ids), 500):
        rows = session.execute(
            select(
                ItemVersion.item_id,
                ItemVersion.number,
                ItemVersion.reason,
                ItemVersion.created_at,
                c["formed_at"].as_string(),
                c["issue_date"].as_string(),
                c["validity_changed_on"].as_string(),
            )
            .where(ItemVersion.item_id.in_(item_ids[start : start + 500]))
            .order_by(ItemVersion.item_id, ItemVersion.number)
        )
        for row in rows:
            out[row[0]].append(_VersionFacts(*row))
    return out


def _released_versions(
    item: _ItemFacts, versions: list[_VersionFacts], now: datetime
) -> list[tuple[_VersionFacts, datetime]]:
    """Versions that reached the public, with when they did, oldest first."""
    out: list[tuple[_VersionFacts, datetime]] = []
    if item.published_at is None:
        return out
    for v in versions:
        if v.reason == "withdraw":
            continue
        scheduled = (
            v.number == item.live_version
            and item.state == ItemState.APPROVED
            and item.publish_at is not None
            and item.publish_at > now
        )
        if scheduled:
            continue
        at = item.published_at if not out else max(v.created_at, item.published_at)
        out.append((v, at))
    return out


def _status(
    calendar: WorkCalendar, today: date, due: date, met_at: datetime | None, warn: int
) -> tuple[str, int | None]:
    if met_at is not None:
        return ("met" if local(met_at).date() <= due else "met_late"), None
    left = calendar.working_days_between(today, due)
    if today > due:
        return "overdue", left
    return ("at_risk" if left <= warn else "open"), left


def _item_deadlines(
    item: _ItemFacts,
    versions: list[_VersionFacts],
    calendar: WorkCalendar,
    now: datetime,
    config: ComplianceSettings,
    abolisher_published: datetime | None = None,
) -> list[Deadline]:
    if (item.disclosure or Disclosure.ACTIVE) != Disclosure.ACTIVE:
        return []
    today = local(now).date()
    n = config.deadline_working_days
    out: list[Deadline] = []
    released = _released_versions(item, versions, now)

    started = _formed(item.formed_at, item.issue_date)
    due, provisional = calendar.add_working_days(started, n)
    met_at = next((at for v, at in released if _formed(v.formed_at, v.issue_date) == started), None)
    status, left = _status(calendar, today, due, met_at, config.warn_working_days)
    out.append(
        Deadline(
            item.uid,
            item.ref,
            item.title,
            item.type,
            CONTENT,
            started,
            due,
            provisional,
            status,
            left,
            met_at,
        )
    )

    if item.validity != Validity.VALID and item.validity_changed_on:
        started = date.fromisoformat(item.validity_changed_on)
        due, provisional = calendar.add_working_days(started, n)
        met_at = next(
            (
                at
                for v, at in released
                if v.reason == "abolish" and v.validity_changed_on == item.validity_changed_on
            ),
            None,
        )
        if met_at is not None and item.abolished_by:
            # abolished by a notice: the change is public when the notice is
            met_at = max(met_at, abolisher_published) if abolisher_published else None
        status, left = _status(calendar, today, due, met_at, config.warn_working_days)
        out.append(
            Deadline(
                item.uid,
                item.ref,
                item.title,
                item.type,
                VALIDITY,
                started,
                due,
                provisional,
                status,
                left,
                met_at,
            )
        )
    return out


def deadlines(
    session: Session,
    now: datetime,
    config: ComplianceSettings | None = None,
    *,
    uid: str | None = None,
    calendar: WorkCalendar | None = None,
    open_only: bool = False,
) -> list[Deadline]:
    """Every clock of every actively disclosed, not withdrawn item (or of one item), due date
    first. `open_only` leaves out the items whose clocks are all settled (see UNSETTLED):
    the same open clocks, without reading the archive."""
    config = config or ComplianceSettings()
    calendar = calendar or WorkCalendar.from_store(session)
    items = _item_facts(session, uid, open_only=open_only)
    versions = _version_facts(session, [i.id for i in items])
    abolishers = sorted({i.abolished_by for i in items if i.abolished_by})
    published = (
        dict(
            session.execute(select(Item.uid, Item.published_at).where(Item.uid.in_(abolishers)))
            .tuples()
            .all()
        )
        if abolishers
        else {}
    )
    out: list[Deadline] = []
    for item in items:
        out += _item_deadlines(
            item,
            versions.get(item.id, []),
            calendar,
            now,
            config,
            abolisher_published=published.get(item.abolished_by) if item.abolished_by else None,
        )
    out.sort(key=lambda d: (d.due_on, d.uid, d.clock))
    return out


def open_deadlines(
    session: Session, now: datetime, config: ComplianceSettings | None = None
) -> list[Deadline]:
    return [
        d
        for d in deadlines(session, now, config, open_only=True)
        if d.status in ("open", "at_risk", "overdue")
    ]


def overdue(session: Session, now: datetime, config: ComplianceSettings | None = None) -> list[Deadline]:
    return [d for d in deadlines(session, now, config, open_only=True) if d.status == "overdue"]


def check_deadlines(
    session: Session, now: datetime, config: ComplianceSettings | None = None
) -> list[Deadline]:
    """Raise `deadline.at_risk` once per clock when it gets within the warning window (and
    `deadline.overdue` once when it passes). Events go out after the caller's commit.
    Returns the clocks at risk or overdue."""
    risky = [d for d in open_deadlines(session, now, config) if d.status in ("at_risk", "overdue")]
    for d in risky:
        key = f"{d.uid}:{d.clock}:{d.started_on.isoformat()}"
        data = d.as_dict()
        # an overdue clock is alerted as overdue, never as "at risk" (公开时限临近)
        raise_once(session, "deadline.overdue" if d.status == "overdue" else "deadline.at_risk", key, data)
    return risky


def load_calendar(
    session: Session,
    schedule: ScheduleFile,
    *,
    by: str,
    now: datetime,
    config: ComplianceSettings | None = None,
) -> list[dict[str, Any]]:
    """Store an official schedule and return the clocks whose due date or provisional mark
    changed with it (they are derived, so they are recomputed by storing it)."""
    before = {(d.uid, d.clock): d for d in deadlines(session, now, config)}
    store_schedule(session, schedule, by=by)
    changed = []
    for d in deadlines(session, now, config):
        was = before.get((d.uid, d.clock))
        if was is not None and (was.due_on, was.provisional) != (d.due_on, d.provisional):
            changed.append(
                {
                    "uid": d.uid,
                    "title": d.title,
                    "clock": d.clock,
                    "was": was.due_on.isoformat(),
                    "was_provisional": was.provisional,
                    "due_on": d.due_on.isoformat(),
                    "provisional": d.provisional,
                }
            )
    return changed
