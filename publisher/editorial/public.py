"""The public read model: the released items the public list shows, and one item as the
public sees it (its live version, or the one before a revision scheduled for later; a
withdrawn item's notice). Reads only; `publisher.web.public` renders what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.domain.clock import local, utcnow
from publisher.domain.item import ITEM_TYPE_LABELS, ItemState, ItemType, VersionView
from publisher.editorial.workflow import view_of
from publisher.settings import Settings
from publisher.store.db import Database
from publisher.store.models import Item, ItemVersion

PAGE_SIZE = 20


def cn_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d")
    return value.isoformat()


def public_version(item: Item, now: datetime | None = None) -> ItemVersion | None:
    """The version the public sees, or None while nothing is released yet."""
    if item.live_version is None or item.published_at is None:
        return None
    now = now or utcnow()
    if item.state == ItemState.APPROVED and item.publish_at is not None and item.publish_at > now:
        earlier = [v for v in item.versions if v.number < item.live_version]
        return max(earlier, key=lambda v: v.number) if earlier else None
    return next((v for v in item.versions if v.number == item.live_version), None)


@dataclass(frozen=True)
class ListRow:
    uid: str
    title: str
    type_label: str
    index_number: str
    doc_number: str
    issue_date: str
    published: str
    validity: str


@dataclass(frozen=True)
class Related:
    uid: str
    title: str
    type_label: str


def _released(stmt: Any) -> Any:
    return stmt.where(
        Item.live_version.is_not(None), Item.published_at.is_not(None), Item.state != ItemState.WITHDRAWN
    )


def _list(session: Session, *, type: str | None, page: int) -> tuple[int, list[ListRow]]:
    stmt = _released(select(Item))
    if type:
        stmt = stmt.where(Item.type == type)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = (
        session.execute(
            stmt.order_by(Item.published_at.desc(), Item.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    rows = []
    now = utcnow()
    for item in items:
        version = public_version(item, now)
        if version is None:
            continue
        c = version.content
        rows.append(
            ListRow(
                uid=item.uid,
                title=c.get("title") or item.title,
                type_label=ITEM_TYPE_LABELS[ItemType(item.type)],
                index_number=c.get("index_number") or "",
                doc_number=c.get("doc_number") or "",
                issue_date=c.get("issue_date") or "",
                published=cn_date(item.published_at),
                validity=c.get("validity") or "有效",
            )
        )
    return total, rows


def _related(session: Session, uids: list[str]) -> list[Related]:
    if not uids:
        return []
    items = session.execute(_released(select(Item)).where(Item.uid.in_(uids))).scalars().all()
    by_uid = {i.uid: i for i in items}
    out = []
    for uid in uids:
        item = by_uid.get(uid)
        version = public_version(item) if item is not None else None
        if item is not None and version is not None:
            out.append(
                Related(
                    uid, version.content.get("title") or item.title, ITEM_TYPE_LABELS[ItemType(item.type)]
                )
            )
    return out


def list_page(db: Database, *, type: str | None, page: int) -> tuple[int, list[ListRow]]:
    """One page of released items, newest first, and how many there are in all."""
    with db.reader() as session:
        return _list(session, type=type, page=page)


@dataclass(frozen=True)
class Gone:
    """A withdrawn item: the public gets its notice (410), not its text."""

    title: str
    withdrawn_on: str
    reason: str | None


@dataclass(frozen=True)
class PublicItem:
    view: VersionView
    policy: list[Related]
    interpretations: list[Related]
    abolished_by: list[Related]


def item_page(db: Database, settings: Settings, uid: str) -> PublicItem | Gone | str:
    """The item as the public sees it, its notice if withdrawn, or why there is nothing to
    show ("missing": no such item or never released; "scheduled": not published yet)."""
    with db.reader() as session:
        item = session.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
        if item is None or item.live_version is None:
            return "missing"
        if item.state == ItemState.WITHDRAWN:
            live = next(v for v in item.versions if v.number == item.live_version)
            return Gone(
                live.content.get("title") or item.title, cn_date(item.withdrawn_at), item.withdraw_reason
            )
        version = public_version(item)
        if version is None:
            return "scheduled"
        view = view_of(session, settings, item, version)
        return PublicItem(
            view,
            policy=_related(session, [view.interprets]) if view.interprets else [],
            interpretations=_related(session, list(view.interpreted_by)),
            abolished_by=_related(session, [view.abolished_by]) if view.abolished_by else [],
        )
