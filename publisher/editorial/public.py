"""Read models of the public disclosure site: the home page, the list of disclosed items, one
item's public page and the years that have an annual report.

The public pages (`publisher.web.public`) call this and never open a session. What the
public sees follows one rule (also applied in bulk by `publisher.compliance.released`): the
item's live version, except while a revision is approved but scheduled for later, when the
version before it stays up; withdrawn items answer with a notice instead.

The guide (信息公开指南) and the rules (信息公开制度) are items of their own types
(`SITE_PAGE_TYPES`): edited, reviewed, approved, versioned and audited like any item, shown
on the home page and left out of the list of documents (`/items` without a type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from publisher.domain.clock import local, utcnow
from publisher.domain.item import ITEM_TYPE_LABELS, SITE_PAGE_TYPES, ItemState, ItemType, VersionView
from publisher.editorial.views import view_of
from publisher.settings import Settings
from publisher.store import counters
from publisher.store.db import Database
from publisher.store.models import Item, ItemVersion

PAGE_SIZE = 20
# The types of the catalogue of disclosed documents, in the order the site lists them.
DOCUMENT_TYPES: tuple[ItemType, ...] = tuple(t for t in ItemType if t not in SITE_PAGE_TYPES)


def day(value: date | datetime | None) -> str:
    """A date as the public pages print it (local time for instants)."""
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
    type: str
    type_label: str
    index_number: str
    doc_number: str
    issuing_body: str
    issue_date: str
    published: str
    validity: str
    description: str = ""


@dataclass(frozen=True)
class Related:
    uid: str
    title: str
    type_label: str
    # the related item's current validity: a link to an abolished policy says so
    validity: str = "有效"
    validity_changed_on: str | None = None


@dataclass(frozen=True)
class Category:
    type: str
    label: str
    count: int


@dataclass(frozen=True)
class Home:
    guide: ListRow | None
    rules: list[ListRow]
    categories: list[Category]
    latest: list[ListRow]
    report_years: list[int]
    total: int


@dataclass(frozen=True)
class ItemPage:
    view: VersionView
    published: str
    policy: list[Related] = field(default_factory=list)
    interpretations: list[Related] = field(default_factory=list)
    abolished_by: list[Related] = field(default_factory=list)


@dataclass(frozen=True)
class Gone:
    title: str
    withdrawn_on: str
    reason: str | None


_RELEASED = (
    Item.live_version.is_not(None),
    Item.published_at.is_not(None),
    Item.state != ItemState.WITHDRAWN,
)


def _released(stmt: Select[tuple[Item]]) -> Select[tuple[Item]]:
    return stmt.where(*_RELEASED)


def _row(item: Item, version: ItemVersion) -> ListRow:
    c: dict[str, Any] = version.content
    return ListRow(
        uid=item.uid,
        title=c.get("title") or item.title,
        type=item.type,
        type_label=ITEM_TYPE_LABELS[ItemType(item.type)],
        index_number=c.get("index_number") or "",
        doc_number=c.get("doc_number") or "",
        issuing_body=c.get("issuing_body") or "",
        issue_date=c.get("issue_date") or "",
        published=day(item.published_at),
        validity=c.get("validity") or "有效",
        description=c.get("description") or "",
    )


def _released_counts(session: Session) -> dict[str, int]:
    """Released items per type, from the maintained counts: the cost of the number of types."""
    return counters.read(session, counters.RELEASED).released


class Site:
    """The public site's reads: one short read transaction per call."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # -- lists ----------------------------------------------------------------------------------
    def list_public(self, *, type: str | None, page: int) -> tuple[int, list[ListRow]]:
        """One page of released documents, newest first (the site's standing pages only when
        asked for by type)."""
        with self.db.reader() as session:
            return self._list(session, type=type, page=page, size=PAGE_SIZE)

    def _list(
        self,
        session: Session,
        *,
        type: str | None,
        page: int,
        size: int,
        released: dict[str, int] | None = None,
    ) -> tuple[int, list[ListRow]]:
        stmt = _released(select(Item))
        if type:
            stmt = stmt.where(Item.type == type)
        else:
            stmt = stmt.where(Item.type.not_in([t.value for t in SITE_PAGE_TYPES]))
        # the maintained count (migration 0017), not a COUNT(*) over the archive
        released = _released_counts(session) if released is None else released
        total = released.get(type, 0) if type else sum(released.get(t.value, 0) for t in DOCUMENT_TYPES)
        items = (
            session.execute(
                stmt.order_by(Item.published_at.desc(), Item.id.desc())
                .limit(size)
                .offset((page - 1) * size)
                # the page's versions in one read, not one per row
                .options(selectinload(Item.versions))
            )
            .scalars()
            .all()
        )
        now = utcnow()
        rows = []
        for item in items:
            version = public_version(item, now)
            if version is not None:
                rows.append(_row(item, version))
        return total, rows

    def home(self, latest: int = 8) -> Home:
        with self.db.reader() as session:
            counts = _released_counts(session)
            _, guides = self._list(session, type=ItemType.GUIDE.value, page=1, size=1, released=counts)
            _, rules = self._list(session, type=ItemType.RULES.value, page=1, size=50, released=counts)
            total, newest = self._list(session, type=None, page=1, size=latest, released=counts)
        return Home(
            guide=guides[0] if guides else None,
            rules=sorted(rules, key=lambda r: r.title),
            categories=[
                Category(t.value, ITEM_TYPE_LABELS[t], int(counts.get(t.value, 0))) for t in DOCUMENT_TYPES
            ],
            latest=newest,
            report_years=self.report_years(),
            total=total,
        )

    def report_years(self) -> list[int]:
        """The years an annual report can cover: from the first publication to this year."""
        with self.db.reader() as session:
            first = session.execute(select(func.min(Item.published_at)).where(*_RELEASED)).scalar_one()
        this_year = local(utcnow()).year
        start = local(first).year if first is not None else this_year
        return list(range(this_year, start - 1, -1))

    # -- one item -------------------------------------------------------------------------------
    def item(self, uid: str) -> ItemPage | Gone | None:
        """The item's public page, a notice when it was withdrawn, None when there is none."""
        with self.db.reader() as session:
            item = session.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
            if item is None or item.live_version is None:
                return None
            if item.state == ItemState.WITHDRAWN:
                live = next(v for v in item.versions if v.number == item.live_version)
                return Gone(
                    live.content.get("title") or item.title, day(item.withdrawn_at), item.withdraw_reason
                )
            version = public_version(item)
            if version is None:
                return None
            view = view_of(session, self.settings, item, version)
            return ItemPage(
                view=view,
                published=day(view.published_at),
                policy=self._related(session, [view.interprets]) if view.interprets else [],
                interpretations=self._related(session, list(view.interpreted_by)),
                abolished_by=self._related(session, [view.abolished_by]) if view.abolished_by else [],
            )

    def _related(self, session: Session, uids: list[str]) -> list[Related]:
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
                        uid,
                        version.content.get("title") or item.title,
                        ITEM_TYPE_LABELS[ItemType(item.type)],
                        validity=str(item.validity),
                        validity_changed_on=item.validity_changed_on,
                    )
                )
        return out


__all__ = [
    "DOCUMENT_TYPES",
    "PAGE_SIZE",
    "Category",
    "Gone",
    "Home",
    "ItemPage",
    "ListRow",
    "Related",
    "Site",
    "day",
    "public_version",
]
