"""Work queues for each role's landing page: 我的草稿 and 被退回 (with the reason) for the
editor who wrote the item, 待我审查 for reviewers, 待我批准 for approvers. An item the actor
wrote is never in their review or approval queue (maker-checker refuses it anyway).
Reads only, bounded per queue: the editor's two read their 50 along an index of the author's
drafts (PostgreSQL: ix_items_state_updated; SQLite: the partial indexes of migration 0026)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from publisher.domain.item import ITEM_TYPE_LABELS, ItemState, ItemType
from publisher.domain.permissions import Permission
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service
from publisher.store.models import Item

LIMIT = 50


@dataclass(frozen=True)
class QueueRow:
    uid: str
    title: str
    type_label: str
    updated_at: datetime
    release_group: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Queue:
    key: str  # drafts | returned | review | approval
    title: str
    empty: str
    rows: list[QueueRow]


def _rows(items: list[Item], *, reason: bool = False) -> list[QueueRow]:
    return [
        QueueRow(
            uid=i.uid,
            title=i.title,
            type_label=ITEM_TYPE_LABELS[ItemType(i.type)],
            updated_at=i.updated_at,
            release_group=i.release_group,
            reason=i.reject_reason if reason else None,
        )
        for i in items
    ]


def work_queues(service: Service, actor: Actor) -> list[Queue]:
    """The actor's queues, in the order of the workflow."""
    out: list[Queue] = []
    with service.db.reader() as s:

        def items(*where: object) -> list[Item]:
            stmt = select(Item).where(*where).order_by(Item.updated_at.desc(), Item.id.desc()).limit(LIMIT)  # type: ignore[arg-type]
            return list(s.execute(stmt).scalars())

        if actor.can(Permission.ITEM_EDIT):
            mine = (Item.created_by == actor.id, Item.state == ItemState.DRAFT)
            out.append(
                Queue(
                    "returned",
                    "被退回",
                    "没有被退回的信息。",
                    _rows(items(*mine, Item.reject_reason.is_not(None)), reason=True),
                )
            )
            out.append(
                Queue("drafts", "我的草稿", "没有草稿。", _rows(items(*mine, Item.reject_reason.is_(None))))
            )
        if actor.can(Permission.ITEM_REVIEW):
            out.append(
                Queue(
                    "review",
                    "待我审查",
                    "没有等待审查的信息。",
                    _rows(items(Item.state == ItemState.IN_REVIEW, Item.created_by != actor.id)),
                )
            )
        if actor.can(Permission.ITEM_APPROVE):
            out.append(
                Queue(
                    "approval",
                    "待我批准",
                    "没有等待批准的信息。",
                    _rows(items(Item.state == ItemState.AWAITING_APPROVAL, Item.created_by != actor.id)),
                )
            )
    return out


__all__ = ["Queue", "QueueRow", "work_queues"]
