"""Fee catalogues (政府性基金目录, 行政事业性收费目录, 涉企行政事业性收费目录), maintained by the
change rows (新增 / 取消 / 调整) of published fee_change items.

The catalogues are derived, not stored: the history is every change row of every fee_change
item that reached the public, and the catalogue on a day is those rows, effective by then, applied
in order (effective date, publication time, row order). A withdrawn item's rows stay in the
history marked withdrawn and no longer apply; rows a later revision of the same item replaced
stay marked superseded. So publication, withdrawal and revision are reflected the moment they
happen, with nothing to keep in step.

The office's catalogues predate this service: a 取消 or 调整 of an item the history does not
know is applied all the same (调整 lists the item with its new standard) and noted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.compliance.released import public_of, versions_of
from publisher.compliance.tabular import Table
from publisher.domain.clock import local
from publisher.domain.item import FEE_CATALOGUES, ItemState, ItemType
from publisher.store.models import Item

# URL-safe names for the three catalogues
CATALOGUE_KEYS: dict[str, str] = {
    "government-funds": FEE_CATALOGUES[0],
    "administrative-fees": FEE_CATALOGUES[1],
    "enterprise-fees": FEE_CATALOGUES[2],
}
KEY_OF = {name: key for key, name in CATALOGUE_KEYS.items()}

APPLIED, PENDING, WITHDRAWN, SUPERSEDED = "applied", "pending", "withdrawn", "superseded"
STATUS_LABELS = {APPLIED: "已生效", PENDING: "待生效", WITHDRAWN: "已撤回", SUPERSEDED: "已被修订替代"}


@dataclass(frozen=True)
class FeeChange:
    catalogue: str
    action: str
    item: str
    department: str | None
    old_standard: str | None
    new_standard: str | None
    effective_date: date
    source_uid: str
    source_title: str
    source_doc_number: str | None
    source_version: int
    published_at: datetime
    row: int
    status: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["effective_date"] = self.effective_date.isoformat()
        d["published_at"] = self.published_at.isoformat()
        d["status_label"] = STATUS_LABELS[self.status]
        return d


def _rows_of(
    item: Item, content: dict[str, Any], version: int, published_at: datetime, status: str
) -> list[FeeChange]:
    effective = date.fromisoformat(content["effective_date"])
    return [
        FeeChange(
            catalogue=content["catalogue"],
            action=r["action"],
            item=r["item"],
            department=r.get("department"),
            old_standard=r.get("old_standard"),
            new_standard=r.get("new_standard"),
            effective_date=effective,
            source_uid=item.uid,
            source_title=content.get("title") or item.title,
            source_doc_number=content.get("doc_number"),
            source_version=version,
            published_at=published_at,
            row=i,
            status=status,
        )
        for i, r in enumerate(content.get("changes") or [])
    ]


def _key(content: dict[str, Any]) -> tuple[Any, ...]:
    return (content.get("catalogue"), content.get("effective_date"), repr(content.get("changes")))


def fee_history(session: Session, now: datetime, *, as_of: date | None = None) -> list[FeeChange]:
    """Every change row that reached the public, in the order they apply."""
    as_of = as_of or local(now).date()
    items = (
        session.execute(
            select(Item)
            .where(
                Item.type == ItemType.FEE_CHANGE,
                Item.published_at.is_not(None),
                Item.live_version.is_not(None),
            )
            .order_by(Item.id)
        )
        .scalars()
        .all()
    )
    versions = versions_of(session, [i.id for i in items])
    out: list[FeeChange] = []
    for item in items:
        assert item.published_at is not None
        vs = [v for v in versions.get(item.id, []) if v.reason != "withdraw"]
        if item.state == ItemState.WITHDRAWN:
            public = vs[-1] if vs else None
            status = WITHDRAWN
        else:
            public = public_of(item, versions.get(item.id, []), now)
            status = APPLIED
        if public is None:
            continue
        # earlier released change sets a revision replaced
        seen = {_key(public.content)}
        for v in vs:
            if v.number < public.number and _key(v.content) not in seen:
                seen.add(_key(v.content))
                out += _rows_of(item, v.content, v.number, item.published_at, SUPERSEDED)
        released_at = (
            item.published_at if public.number == vs[0].number else max(public.created_at, item.published_at)
        )
        rows = _rows_of(item, public.content, public.number, released_at, status)
        if status == APPLIED:
            rows = [r if r.effective_date <= as_of else _with_status(r, PENDING) for r in rows]
        out += rows
    out.sort(key=lambda r: (r.effective_date, r.published_at, r.source_uid, r.row))
    return out


def _with_status(row: FeeChange, status: str) -> FeeChange:
    return FeeChange(**{**asdict(row), "status": status})


@dataclass
class FeeEntry:
    item: str
    department: str | None
    standard: str | None
    since: date
    source_uid: str
    source_doc_number: str | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"] = self.since.isoformat()
        return d


def fee_catalogue(history: list[FeeChange], catalogue: str) -> tuple[list[FeeEntry], list[str]]:
    """The catalogue the applied rows of `history` give, sorted by item; and notes on rows
    that touched items the history did not know."""
    entries: dict[str, FeeEntry] = {}
    notes: list[str] = []
    for r in history:
        if r.catalogue != catalogue or r.status != APPLIED:
            continue
        current = entries.get(r.item)
        if r.action == "取消":
            if current is None:
                notes.append(
                    f"{r.effective_date} 取消“{r.item}”：此前未在目录中 / cancelled an item not on record"
                )
            entries.pop(r.item, None)
            continue
        if r.action == "新增" and current is not None:
            notes.append(f"{r.effective_date} 新增“{r.item}”：已在目录中，按新标准更新 / added twice")
        if r.action == "调整" and current is None:
            notes.append(
                f"{r.effective_date} 调整“{r.item}”：此前未在目录中，按新标准列入 / adjusted an item not on record"
            )
        entries[r.item] = FeeEntry(
            item=r.item,
            department=r.department or (current.department if current else None),
            standard=r.new_standard,
            since=r.effective_date,
            source_uid=r.source_uid,
            source_doc_number=r.source_doc_number,
            note="调整" if r.action == "调整" else "",
        )
    return sorted(entries.values(), key=lambda e: e.item), notes


ENTRY_COLUMNS = (
    ("item", "项目名称"),
    ("department", "执收部门"),
    ("standard", "收费标准"),
    ("since", "执行日期"),
    ("source_doc_number", "依据文号"),
    ("source_uid", "依据信息"),
)
HISTORY_COLUMNS = (
    ("effective_date", "执行日期"),
    ("catalogue", "目录"),
    ("action", "变动类型"),
    ("item", "项目名称"),
    ("department", "执收部门"),
    ("old_standard", "原标准"),
    ("new_standard", "新标准"),
    ("source_title", "依据"),
    ("source_doc_number", "文号"),
    ("status_label", "状态"),
    ("source_uid", "依据信息"),
)


def entries_table(catalogue: str, entries: list[FeeEntry]) -> Table:
    return Table(title=catalogue, columns=ENTRY_COLUMNS, rows=[e.as_dict() for e in entries])


def history_table(history: list[FeeChange]) -> Table:
    return Table(title="收费目录变动记录", columns=HISTORY_COLUMNS, rows=[r.as_dict() for r in history])


def changes_rss(history: list[FeeChange], *, base_url: str, agency: str, limit: int = 100) -> bytes:
    """RSS 2.0 of catalogue changes, newest first: one entry per source item and status."""
    base = base_url.rstrip("/")
    groups: dict[tuple[str, str], list[FeeChange]] = {}
    for r in history:
        groups.setdefault((r.source_uid, r.status), []).append(r)
    entries = sorted(
        groups.values(), key=lambda rows: (rows[0].published_at, rows[0].source_uid), reverse=True
    )
    items_xml = []
    for rows in entries[:limit]:
        first = rows[0]
        status = "" if first.status == APPLIED else f"（{STATUS_LABELS[first.status]}）"
        title = f"【{first.catalogue}】{'；'.join(f'{r.action}“{r.item}”' for r in rows)}{status}"
        lines = "".join(
            f"<li>{escape(r.action)} {escape(r.item)}"
            f"{'：' + escape(r.old_standard or '—') + ' → ' + escape(r.new_standard or '—') if r.action != '取消' else ''}"
            "</li>"
            for r in rows
        )
        desc = f"<p>{escape(first.source_title)}，{first.effective_date.isoformat()} 起执行。</p><ul>{lines}</ul>"
        items_xml.append(
            "<item>"
            f"<title>{escape(title)}</title>"
            f"<link>{escape(base)}/items/{first.source_uid}</link>"
            f'<guid isPermaLink="false">fee-{first.source_uid}-v{first.source_version}-{first.status}</guid>'
            f"<pubDate>{format_datetime(first.published_at)}</pubDate>"
            f"<category>{escape(first.catalogue)}</category>"
            f"<description>{escape(desc)}</description>"
            "</item>"
        )
    latest = entries[0][0].published_at if entries else None
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(agency)} 收费目录变动</title><link>{escape(base)}/fees</link>"
        f"<description>{escape('政府性基金目录、行政事业性收费目录和涉企行政事业性收费目录的变动')}</description>"
        "<language>zh-CN</language>"
        + (f"<lastBuildDate>{format_datetime(latest)}</lastBuildDate>" if latest else "")
        + "".join(items_xml)
        + "</channel></rss>"
    )
    return doc.encode("utf-8")
