"""The active-disclosure catalogue (主动公开目录), generated from what is published.

One row per released, actively disclosed item, from the version the public sees, with the
catalogue fields of DOMAIN.md §2. Withdrawn items are absent; abolished, expired or amended
ones stay listed with their validity and the date it changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from publisher.compliance.released import released, released_stmt
from publisher.compliance.tabular import Table
from publisher.domain.clock import local
from publisher.domain.item import DEFAULT_LABELS, ITEM_TYPE_LABELS, Disclosure, ItemType
from publisher.store.models import Item

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


def catalogue_rows(
    session: Session, now: datetime, public_base_url: str, filters: Filters | None = None
) -> list[dict[str, Any]]:
    filters = filters or Filters()
    stmt = released_stmt()
    if filters.type:
        stmt = stmt.where(Item.type == filters.type)
    base = public_base_url.rstrip("/")
    rows = []
    for r in released(session, now, stmt):
        c = r.content
        if c.get("disclosure", Disclosure.ACTIVE) != Disclosure.ACTIVE:
            continue
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
        if filters.matches(row):
            rows.append(row)
    rows.sort(key=lambda x: (x["published_on"], x["index_number"]), reverse=True)
    return rows


def catalogue_table(
    rows: list[dict[str, Any]], agency: str, labels: Mapping[str, str] | None = None
) -> Table:
    """The catalogue as a table; its headers use the agency's vocabulary ([agency.labels])."""
    names = {**DEFAULT_LABELS, **(labels or {}), "published_on": (labels or DEFAULT_LABELS)["published"]}
    columns = tuple((key, names.get(key, title)) for key, title in COLUMNS)
    return Table(title=f"{agency}主动公开目录", columns=columns, rows=rows)
