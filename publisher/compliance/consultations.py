"""Consultations (征求意见) and their adoption reports (采纳情况).

When a published consultation's close date has passed, `check_consultations` adds a reminder
to publish how the comments were adopted and raises `consultation.closed` once. The adoption
report is its own item, linked to the consultation (`item_links`, kind `adoption_report`).

It is typed `consultation`, not `notice`: routing is by type, so a report of that type goes
to exactly the channels the consultation went to (and sits in the same column, where readers
found the draft), whatever the deployment's routing says; and its consultation block carries
the period of the consultation it reports on, which the channels already render. A report is
recognised by its link, so it is never itself treated as a consultation that closes.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from publisher.compliance.alerts import emit_after_commit
from publisher.compliance.calendar import WorkCalendar
from publisher.compliance.config import ComplianceSettings
from publisher.compliance.released import released, released_stmt
from publisher.domain.actions import AuditAction
from publisher.domain.clock import as_utc, local, local_today, utcnow
from publisher.domain.errors import TransitionError, ValidationError
from publisher.domain.item import ItemState, ItemType
from publisher.domain.permissions import Permission
from publisher.domain.validation import field_errors
from publisher.editorial import audit, workflow
from publisher.editorial.auth import Actor
from publisher.settings import Settings
from publisher.store.models import Item, ItemLink, JobMark, Reminder

LINK = "adoption_report"
REMINDER = "adoption_report"


class AdoptionReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=500)
    body_html: str | None = Field(default=None, max_length=2_000_000)
    issue_date: date | None = None


def report_uids(session: Session, uids: list[str] | None = None) -> set[str]:
    """The items that are adoption reports (of all, or among `uids`)."""
    stmt = select(ItemLink.item_uid).where(ItemLink.kind == LINK)
    if uids is None:
        return set(session.execute(stmt).scalars())
    return {
        uid
        for start in range(0, len(uids), 500)
        for uid in session.execute(stmt.where(ItemLink.item_uid.in_(uids[start : start + 500]))).scalars()
    }


def reports_of(session: Session, consultation_uid: str) -> list[Item]:
    return list(
        session.execute(
            select(Item)
            .join(ItemLink, ItemLink.item_uid == Item.uid)
            .where(ItemLink.kind == LINK, ItemLink.target == consultation_uid)
            .order_by(Item.id)
        ).scalars()
    )


MARK = "consultations"  # job_marks row: the consultations still open, and how far updates were read
# Items are stamped updated_at by the transaction that changes them and become visible when it
# commits, a moment later: the next check reads an hour back from the newest stamp it saw.
OVERLAP = timedelta(hours=1)


def _candidates(session: Session, today: date) -> tuple[Select[tuple[Item]], JobMark | None]:
    """The consultations this check must look at: those still open at the last check and
    those changed since (released, edited, withdrawn, reported on). Every other consultation
    was closed and settled (reminded, a report, or withdrawn) by an earlier check. Without a
    mark, or with a clock set before the last check (a test, a restore), everything."""
    stmt = released_stmt().where(Item.type == ItemType.CONSULTATION)
    mark = session.get(JobMark, MARK)
    if mark is None or mark.at is None or date.fromisoformat(mark.data["day"]) > today:
        return stmt, mark
    changed = select(Item.id).where(
        Item.type == ItemType.CONSULTATION, Item.updated_at >= as_utc(mark.at) - OVERLAP
    )
    ids = set(mark.data["open"]) | set(session.execute(changed).scalars())
    return stmt.where(Item.id.in_(sorted(ids))), mark


def check_consultations(
    session: Session, now: datetime, config: ComplianceSettings | None = None
) -> list[Reminder]:
    """Remind about every published consultation whose close date has passed (once each),
    and close reminders whose adoption report is out. Returns the reminders it added.
    Reads only the consultations open at the last check or changed since (`job_marks`)."""
    config = config or ComplianceSettings()
    today = local(now).date()
    seen_until = session.execute(
        select(func.max(Item.updated_at)).where(Item.type == ItemType.CONSULTATION)
    ).scalar_one_or_none()
    stmt, mark = _candidates(session, today)
    candidates = released(session, now, stmt)
    uids = [r.item.uid for r in candidates]
    reports = report_uids(session, uids)
    existing = {
        r.item_uid
        for start in range(0, len(uids), 500)
        for r in session.execute(
            select(Reminder).where(
                Reminder.kind == REMINDER, Reminder.item_uid.in_(uids[start : start + 500])
            )
        ).scalars()
    }
    calendar: WorkCalendar | None = None
    added = []
    still_open = []
    for r in candidates:
        if r.item.uid in reports or r.item.uid in existing:
            continue
        block = r.content.get("consultation") or {}
        closes = date.fromisoformat(block["closes"]) if block.get("closes") else None
        if closes is None:
            continue
        if closes >= today:
            still_open.append(r.item.id)
            continue
        calendar = calendar or WorkCalendar.from_store(session)
        # the report is information formed when the consultation closed: the usual 20 working days
        due, provisional = calendar.add_working_days(closes, config.deadline_working_days)
        title = r.content.get("title") or r.item.title
        reminder = Reminder(
            kind=REMINDER,
            item_uid=r.item.uid,
            title=title,
            message=f"《{title}》已于 {closes.isoformat()} 截止征求意见，请发布采纳情况 / "
            "the consultation has closed: publish the adoption report",
            due_on=due,
            created_at=utcnow(),
        )
        session.add(reminder)
        session.flush()
        added.append(reminder)
        emit_after_commit(
            session,
            "consultation.closed",
            {
                "uid": r.item.uid,
                "title": title,
                "closes": closes.isoformat(),
                "report_due_on": due.isoformat(),
                "provisional": provisional,
                "reminder": reminder.id,
            },
        )
    _close_done(session, now)
    data = {"day": today.isoformat(), "open": sorted(still_open)}
    if mark is None:
        session.add(JobMark(name=MARK, at=seen_until, data=data))
    else:
        mark.at, mark.data = seen_until, data
    return added


def _close_done(session: Session, now: datetime) -> None:
    open_ = (
        session.execute(select(Reminder).where(Reminder.kind == REMINDER, Reminder.done_at.is_(None)))
        .scalars()
        .all()
    )
    for reminder in open_:
        consultation = session.execute(select(Item).where(Item.uid == reminder.item_uid)).scalar_one_or_none()
        if consultation is None or consultation.state == ItemState.WITHDRAWN:
            # a withdrawn consultation has no adoption report to publish
            reminder.done_at = (
                consultation.withdrawn_at if consultation and consultation.withdrawn_at else now
            )
            continue
        for report in reports_of(session, reminder.item_uid):
            if report.published_at is not None and report.state == ItemState.PUBLISHED:
                reminder.done_at = report.published_at
                reminder.done_by_uid = report.uid
                break


def reminders(session: Session, *, include_done: bool = False) -> list[dict[str, Any]]:
    stmt = select(Reminder)
    if not include_done:
        stmt = stmt.where(Reminder.done_at.is_(None))
    rows = session.execute(stmt.order_by(Reminder.due_on, Reminder.id)).scalars().all()
    return [reminder_json(session, r) for r in rows]


def reminder_json(session: Session, r: Reminder) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "item": r.item_uid,
        "title": r.title,
        "message": r.message,
        "due_on": r.due_on.isoformat() if r.due_on else None,
        "created_at": r.created_at.isoformat(),
        "done_at": r.done_at.isoformat() if r.done_at else None,
        "done_by": r.done_by_uid,
        "reports": [{"uid": i.uid, "state": i.state} for i in reports_of(session, r.item_uid)],
    }


def create_adoption_report(
    session: Session, settings: Settings, actor: Actor, consultation_uid: str, data: dict[str, Any]
) -> Item:
    """A draft adoption report linked to a published consultation."""
    actor.require(Permission.ITEM_EDIT)
    try:
        opts = AdoptionReportIn.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(field_errors(exc)) from None
    consultation = workflow.get_item(session, consultation_uid, lock=True)
    if consultation.type != ItemType.CONSULTATION:
        raise ValidationError.one(
            "uid", "只有征求意见才有采纳情况 / only a consultation has an adoption report"
        )
    if consultation.uid in report_uids(session, [consultation.uid]):
        raise ValidationError.one(
            "uid", "这是一份采纳情况说明，不是征求意见 / this item is itself an adoption report"
        )
    if consultation.live_version is None or consultation.state == ItemState.WITHDRAWN:
        raise TransitionError(
            "征求意见尚未发布或已撤回 / the consultation is not published", consultation.state
        )
    pending = [i for i in reports_of(session, consultation.uid) if i.state != ItemState.WITHDRAWN]
    if pending:
        raise TransitionError(
            f"已有采纳情况说明《{pending[0].title}》({pending[0].uid}) / an adoption report exists already",
            pending[0].state,
        )
    c = consultation.content
    title = c.get("title") or consultation.title
    issue = opts.issue_date or local_today()
    body = opts.body_html or (
        f"<p>本机关于 {c['consultation']['opens']} 至 {c['consultation']['closes']} 就《{html.escape(title)}》"
        "公开征求意见。现将意见采纳情况说明如下：</p><p>（请填写收到意见的数量、采纳情况及未采纳的理由。）</p>"
    )
    item_data: dict[str, Any] = {
        "type": ItemType.CONSULTATION.value,
        "title": opts.title or f"关于《{title}》征求意见采纳情况的说明"[:300],
        "issue_date": issue.isoformat(),
        "formed_at": issue.isoformat(),
        "subject": c.get("subject") or "综合政务\\公众参与",
        "description": (opts.description or f"《{title}》公开征求意见的采纳情况。")[:500],
        "keywords": ["采纳情况"],
        "body_html": body,
        "consultation": dict(c["consultation"]),
    }
    item = workflow.create_item(session, settings, actor, item_data)
    session.add(
        ItemLink(
            kind=LINK, item_uid=item.uid, target=consultation.uid, created_by=actor.name, created_at=utcnow()
        )
    )
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.ADOPTION_REPORT_DRAFT,
        item_uid=item.uid,
        data={"consultation": consultation.uid},
    )
    return item
