"""What an item is linked to by the compliance features, in both directions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.compliance import applications, consultations
from publisher.store.models import Application, Item, ItemLink


def item_links(session: Session, uid: str) -> dict[str, Any]:
    """{"application": {...}|None, "adoption_report_of": {...}|None, "adoption_reports": [...]}.
    The application is shown by number, subject and dates, never with its applicant."""
    out: dict[str, Any] = {"application": None, "adoption_report_of": None, "adoption_reports": []}
    for link in session.execute(select(ItemLink).where(ItemLink.item_uid == uid)).scalars():
        if link.kind == applications.LINK:
            app = session.execute(
                select(Application).where(Application.number == link.target)
            ).scalar_one_or_none()
            out["application"] = {
                "number": link.target,
                "subject": app.subject if app else None,
                "received_on": app.received_on.isoformat() if app else None,
                "answered_on": app.answered_on.isoformat() if app else None,
                "linked_at": link.created_at.isoformat(),
            }
        elif link.kind == consultations.LINK:
            target = session.execute(select(Item).where(Item.uid == link.target)).scalar_one_or_none()
            out["adoption_report_of"] = {"uid": link.target, "title": target.title if target else None}
    out["adoption_reports"] = [
        {"uid": i.uid, "title": i.title, "state": i.state} for i in consultations.reports_of(session, uid)
    ]
    return out
