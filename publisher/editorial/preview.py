"""Preview of the working copy on every routed channel: the VersionView approval would
freeze (with a provisional index number), each adapter's pure render() of it, and every
pre-flight problem. Nothing is written: the version object is never added to the session.

Called inside a service's read transaction (`publisher.editorial.checks.service`); the
channels arrive as the small `Renderers` surface, so the editorial side needs no delivery
import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import Channel
from publisher.domain.clock import local, utcnow
from publisher.domain.errors import FieldError
from publisher.domain.item import Operation, VersionView
from publisher.editorial.views import content_hash, view_of
from publisher.settings import Settings
from publisher.store.models import IndexCounter, Item, ItemVersion


class Renderers(Protocol):
    """What the preview needs of the configured channels (`publisher.delivery.channelset`)."""

    def preflight(self, view: VersionView, kinds: list[str]) -> list[FieldError]: ...
    def get(self, kind: str) -> Channel: ...


def provisional_index_number(session: Session, settings: Settings, item: Item) -> str:
    """The number approval would assign now (read-only: the counter is not moved)."""
    if item.index_number:
        return item.index_number
    agency = settings.agency
    year = local(item.publish_at or utcnow()).year
    last = session.execute(
        select(IndexCounter.last_serial).where(IndexCounter.agency == agency.code, IndexCounter.year == year)
    ).scalar_one_or_none()
    return agency.index_pattern.format(code=agency.code, year=year, serial=(last or 0) + 1)


def preview_view(session: Session, settings: Settings, item: Item) -> VersionView:
    """The VersionView approving `item` now would freeze, built from its working copy."""
    now = utcnow()
    content = dict(item.content)
    content["index_number"] = provisional_index_number(session, settings, item)
    content["published_at"] = (item.published_at or item.publish_at or now).isoformat()
    content["validity_changed_on"] = item.validity_changed_on
    content["abolished_by"] = item.abolished_by
    content["validity"] = item.validity
    version = ItemVersion(
        id=0,
        item_id=item.id,
        number=(item.live_version or 0) + 1,
        content=content,
        content_hash=content_hash(content),
        reason="preview",
        created_by=0,
        created_at=now,
    )
    return view_of(session, settings, item, version)


@dataclass
class ChannelPreview:
    channel: str
    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def preview(
    session: Session, settings: Settings, renderers: Renderers, item: Item
) -> tuple[VersionView, list[ChannelPreview]]:
    view = preview_view(session, settings, item)
    op = Operation.UPDATE if item.live_version else Operation.PUBLISH
    channels = settings.routed_channels(item.type)
    problems = renderers.preflight(view, channels)
    out = []
    for name in channels:
        p = ChannelPreview(channel=name, kind=settings.kind_of(name))
        prefix = f"channels.{name}"
        p.problems = [
            (e.field[len(prefix) + 1 :] or name, e.message)
            for e in problems
            if e.field == prefix or e.field.startswith(prefix + ".")
        ]
        try:
            p.body = dict(renderers.get(name).render(view, op).body)
        except Exception as exc:  # a render bug must show on the preview, not break the page
            p.error = f"{type(exc).__name__}: {exc}"[:500]
        out.append(p)
    return view, out
