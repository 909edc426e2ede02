"""The active-disclosure catalogue (主动公开目录), generated from what is published.

One row per released, actively disclosed item, from the version the public sees, with the
catalogue fields of DOMAIN.md §2. Withdrawn items are absent; abolished, expired or amended
ones stay listed with their validity and the date it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.orm import Session

from publisher.compliance.released import Released, released, released_stmt, with_public
from publisher.compliance.tabular import Table
from publisher.domain.clock import SHANGHAI, local
from publisher.domain.item import DEFAULT_LABELS, ITEM_TYPE_LABELS, Disclosure, ItemType
from publisher.store.models import Item, UTCDateTime

PAGE_SIZE = 50

COLUMNS: tuple[tuple[str, str], ...] = (
    ("index_number", "索取号"),
    ("title", "信息名称"),
    ("type_label", "类别"),
    ("issuing_body", "发文机关"),
    ("issue_date", "印发日期"),
    ("published_on", "发布日期"),
    ("doc_number", "文号"),
    ("subject", "主题分类"),
    ("disclosure", "公开方式"),
    ("scope", "公开范围"),
    ("validity", "是否有效"),
    ("validity_changed_on", "有效性变更日期"),
    ("keywords", "关键词"),
    ("description", "内容描述"),
    ("url", "链接"),
    ("uid", "标识"),
)


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    subject: str | None = None  # a class or any of its parents: 财政 matches 财政\预算
    year: int | None = None  # publication year, Asia/Shanghai

    def matches(self, row: dict[str, Any]) -> bool:
        if self.type and row["type"] != self.type:
            return False
        if self.subject:
            subject = str(row["subject"])
            if subject != self.subject and not subject.startswith(self.subject.rstrip("\\") + "\\"):
                return False
        return not (self.year and not str(row["published_on"]).startswith(f"{self.year:04d}-"))


def _row(r: Released, base: str) -> dict[str, Any] | None:
    c = r.content
    if c.get("disclosure", Disclosure.ACTIVE) != Disclosure.ACTIVE:
        return None
    published = c.get("published_at")
    published_on = (
        local(datetime.fromisoformat(published)).date().isoformat()
        if published
        else (local(r.item.published_at).date().isoformat() if r.item.published_at else "")
    )
    row = {
        "uid": r.item.uid,
        "type": r.item.type,
        "type_label": ITEM_TYPE_LABELS[ItemType(r.item.type)],
        "index_number": c.get("index_number") or r.item.index_number or "",
        "title": c.get("title") or r.item.title,
        "issuing_body": c.get("issuing_body") or "",
        "issue_date": c.get("issue_date") or "",
        "published_on": published_on,
        "doc_number": c.get("doc_number") or "",
        "subject": c.get("subject") or "",
        "disclosure": c.get("disclosure") or Disclosure.ACTIVE.value,
        "scope": c.get("scope") or "面向社会",
        "validity": c.get("validity") or "有效",
        "validity_changed_on": c.get("validity_changed_on") or "",
        "keywords": list(c.get("keywords") or []),
        "description": c.get("description") or "",
        "url": f"{base}/items/{r.item.uid}",
    }
    return row


def _order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda x: (x["published_on"], x["index_number"]), reverse=True)


def catalogue_rows(
    session: Session, now: datetime, public_base_url: str, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """The whole catalogue as a list, newest first (tests and small callers; the exports
    stream it with `catalogue_stream`)."""
    return list(catalogue_stream(lambda fn: fn(session), now, public_base_url, filters))


EXPORT_BATCH = 500  # released items read per statement by an export


def catalogue_stream(
    reading: Callable[[Callable[[Session], Any]], Any],
    now: datetime,
    public_base_url: str,
    filters: Filters | None = None,
    batch: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every catalogue row, newest first, read `batch` released items at a time along the
    publication-time index (keyset: each batch starts where the last one stopped), so an
    export holds a batch, never the archive. `reading(fn)` runs `fn` with a session: a
    streamed answer reads each batch in a short read transaction of its own, and holds no
    connection while the client downloads.

    The order is the catalogue's (publication date, then 索取号, newest first): items come by
    publication time, and the rows of one day are sorted together before they are given out, so
    what is held is a batch and the rows of the day being read (a day's releases)."""
    batch = batch or EXPORT_BATCH
    filters = filters or Filters()
    base = public_base_url.rstrip("/")
    ordered = _narrowed(filters).order_by(Item.published_at.desc(), Item.id.desc()).limit(batch)
    after: tuple[datetime, int] | None = None
    day: str | None = None
    pending: list[dict[str, Any]] = []
    while True:
        stmt = ordered
        if after is not None:
            key = tuple_(Item.published_at, Item.id)
            stmt = stmt.where(key < tuple_(literal(after[0], UTCDateTime()), literal(after[1])))

        def read(
            s: Session, stmt: Select[tuple[Item]] = stmt
        ) -> list[tuple[datetime, int, dict[str, Any] | None]]:
            items = list(s.execute(stmt).scalars().all())
            shown = {r.item.id: _row(r, base) for r in with_public(s, now, items)}
            return [(i.published_at, i.id, shown.get(i.id)) for i in items if i.published_at is not None]

        chunk = reading(read)
        for published_at, _id, row in chunk:
            on = local(published_at).date().isoformat()
            if on != day:
                yield from _order(pending)
                pending, day = [], on
            if row is not None and filters.matches(row):
                pending.append(row)
        if len(chunk) < batch:
            break
        after = (chunk[-1][0], chunk[-1][1])
    yield from _order(pending)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    def start(y: int) -> datetime:
        return datetime(y, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)

    return start(year), start(year + 1)


def _narrowed(filters: Filters) -> Select[tuple[Item]]:
    """Released items the filters can match, narrowed in SQL by what the item row holds (type,
    publication time); the subject lives in the version's content and is checked per row."""
    stmt = released_stmt()
    if filters.type:
        stmt = stmt.where(Item.type == filters.type)
    if filters.year:
        since, until = _year_bounds(filters.year)
        stmt = stmt.where(Item.published_at >= since, Item.published_at < until)
    return stmt


@dataclass(frozen=True)
class CataloguePage:
    rows: list[dict[str, Any]]
    total: int  # released items the type and year filters match (the subject is checked per row)
    page: int
    pages: int


def catalogue_page(
    session: Session,
    now: datetime,
    public_base_url: str,
    filters: Filters,
    page: int,
    page_size: int = PAGE_SIZE,
) -> CataloguePage:
    """One page of the catalogue, newest first: what it costs follows the page, not the archive
    (the whole list rendered at once took minutes at 100,000 items). Without a subject filter the
    page is read in SQL by publication time; with one, released items are read in that order in
    batches until the page is full."""
    base = public_base_url.rstrip("/")
    stmt = _narrowed(filters)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    ordered = stmt.order_by(Item.published_at.desc(), Item.id.desc())
    if not filters.subject:
        chunk = released(session, now, ordered.offset((page - 1) * page_size).limit(page_size))
        rows = [row for r in chunk if (row := _row(r, base))]
        return CataloguePage(_order(rows), total, page, pages)
    # a subject: skip the matching rows of the earlier pages, reading in batches
    wanted_from, rows, offset, batch = (page - 1) * page_size, [], 0, 500
    seen = 0
    while len(rows) < page_size:
        chunk = released(session, now, ordered.offset(offset).limit(batch))
        if not chunk and offset >= total:
            break
        offset += batch
        for r in chunk:
            row = _row(r, base)
            if row is None or not filters.matches(row):
                continue
            if seen >= wanted_from and len(rows) < page_size:
                rows.append(row)
            seen += 1
        if offset >= total:
            break
    return CataloguePage(_order(rows), total, page, pages)


def catalogue_options(session: Session) -> tuple[list[str], list[str]]:
    """The filter form's choices: the subject classes and publication years of released items,
    read as a DISTINCT and a MIN/MAX in SQL instead of building every row."""
    released_items = released_stmt().subquery()
    subject = released_items.c.content["subject"].as_string()
    subjects = sorted(
        s for s in session.execute(select(subject).distinct().where(subject.is_not(None))).scalars() if s
    )
    low, high = session.execute(
        select(func.min(released_items.c.published_at), func.max(released_items.c.published_at))
    ).one()
    years: list[str] = []
    if low is not None and high is not None:
        first, last = local(low).year, local(high).year
        years = [str(y) for y in range(last, first - 1, -1)]
    return subjects, years


def catalogue_table(
    rows: Iterable[dict[str, Any]], agency: str, labels: Mapping[str, str] | None = None
) -> Table:
    """The catalogue as a table; its headers use the agency's vocabulary ([agency.labels])."""
    names = {**DEFAULT_LABELS, **(labels or {}), "published_on": (labels or DEFAULT_LABELS)["published"]}
    columns = tuple((key, names.get(key, title)) for key, title in COLUMNS)
    return Table(title=f"{agency}主动公开目录", columns=columns, rows=rows)
