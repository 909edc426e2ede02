"""What the public sees: released items and the version each one shows, read in bulk.

The rule is the public pages' (`publisher.editorial.public.public_version`): the live version,
except while a revision is approved but scheduled for later, when the version before it
stays up; withdrawn items are gone. Here it is applied to many items with two queries
instead of one lazy load per item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from publisher.domain.item import ItemState
from publisher.store.models import Item, ItemVersion


@dataclass(frozen=True)
class Released:
    item: Item
    version: ItemVersion

    @property
    def content(self) -> dict[str, Any]:
        return self.version.content


def released_stmt() -> Select[tuple[Item]]:
    return select(Item).where(
        Item.live_version.is_not(None), Item.published_at.is_not(None), Item.state != ItemState.WITHDRAWN
    )


def versions_of(session: Session, item_ids: list[int]) -> dict[int, list[ItemVersion]]:
    """Every version of these items, oldest first."""
    out: dict[int, list[ItemVersion]] = defaultdict(list)
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        rows = (
            session.execute(
                select(ItemVersion)
                .where(ItemVersion.item_id.in_(chunk))
                .order_by(ItemVersion.item_id, ItemVersion.number)
            )
            .scalars()
            .all()
        )
        for v in rows:
            out[v.item_id].append(v)
    return out


def public_of(item: Item, versions: list[ItemVersion], now: datetime) -> ItemVersion | None:
    if item.live_version is None or item.published_at is None or item.state == ItemState.WITHDRAWN:
        return None
    if item.state == ItemState.APPROVED and item.publish_at is not None and item.publish_at > now:
        earlier = [v for v in versions if v.number < item.live_version]
        return earlier[-1] if earlier else None
    return next((v for v in versions if v.number == item.live_version), None)


def released(session: Session, now: datetime, stmt: Select[tuple[Item]] | None = None) -> list[Released]:
    """Released items (optionally narrowed by `stmt`, a select of Item) with their public version."""
    items = session.execute((stmt if stmt is not None else released_stmt()).order_by(Item.id)).scalars().all()
    return with_public(session, now, list(items))


def with_public(session: Session, now: datetime, items: list[Item]) -> list[Released]:
    """These items, in their order, with the version the public sees (those without one left out)."""
    versions = versions_of(session, [i.id for i in items])
    out = []
    for item in items:
        version = public_of(item, versions.get(item.id, []), now)
        if version is not None:
            out.append(Released(item, version))
    return out
