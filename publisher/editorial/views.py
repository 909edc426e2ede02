"""Build the read-only `VersionView` that channels render from a stored version: `views_of`
for any number of versions in two queries (the engine's batches, the digests), `view_of`
for one (approval's pre-flight, the preview, the public page)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from publisher.domain.item import DEFAULT_LABELS, Disclosure, ItemType, Scope, Validity, VersionView
from publisher.settings import Settings
from publisher.store.models import AnyItem, Delivery, Item, ItemVersion


def content_hash(content: dict[str, Any]) -> str:
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


STRUCTURED_KEYS = ("catalogue", "effective_date", "changes", "procurement", "consultation")


def version_view(
    item: AnyItem,
    version: ItemVersion,
    *,
    public_base_url: str,
    agency_name: str,
    interpreted_by: tuple[str, ...] = (),
    channel_urls: dict[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> VersionView:
    c = version.content
    changed = c.get("validity_changed_on")
    published = c.get("published_at")
    return VersionView(
        uid=item.uid,
        version=version.number,
        content_hash=version.content_hash,
        type=ItemType(item.type),
        title=c["title"],
        short_title=c.get("short_title"),
        issuing_body=c.get("issuing_body") or agency_name,
        issue_date=date.fromisoformat(c["issue_date"]),
        doc_number=c.get("doc_number"),
        index_number=c.get("index_number") or "",
        subject=c["subject"],
        disclosure=Disclosure(c.get("disclosure") or Disclosure.ACTIVE),
        scope=Scope(c.get("scope") or Scope.PUBLIC),
        validity=Validity(c.get("validity") or Validity.VALID),
        validity_changed_on=date.fromisoformat(changed) if changed else None,
        abolished_by=c.get("abolished_by"),
        keywords=tuple(c.get("keywords") or ()),
        description=c.get("description") or "",
        body_html=c.get("body_html") or "",
        attachments=tuple(c.get("attachments") or ()),
        cover_url=c.get("cover_url"),
        interprets=c.get("interprets"),
        interpreted_by=interpreted_by,
        release_group=c.get("release_group"),
        published_at=datetime.fromisoformat(published) if published else None,
        created_at=version.created_at,
        public_url=f"{public_base_url.rstrip('/')}/items/{item.uid}",
        structured={k: c[k] for k in STRUCTURED_KEYS if c.get(k) is not None},
        withdrawn=c.get("withdrawn", False),
        withdraw_reason=c.get("withdraw_reason"),
        channel_urls=dict(channel_urls or {}),
        labels=dict(labels or DEFAULT_LABELS),
    )


# built once: they run for every batch a worker takes
_INTERPRETED_BY = select(Item.uid, Item.interprets_uid).where(
    Item.interprets_uid.in_(bindparam("uids", expanding=True)), Item.live_version.is_not(None)
)
_CHANNEL_URLS = (
    select(Delivery.item_id, Delivery.channel, Delivery.url)
    .where(Delivery.item_id.in_(bindparam("ids", expanding=True)), Delivery.url.is_not(None))
    .order_by(Delivery.id)
)


def views_of(
    session: Session, settings: Settings, pairs: Sequence[tuple[AnyItem, ItemVersion]]
) -> list[VersionView]:
    """The views of (item, version) pairs, with what the versions do not hold: the released
    items interpreting each item and the channel URLs its deliveries reported (the latest
    per channel)."""
    if not pairs:
        return []
    uids = list({item.uid for item, _version in pairs})
    ids = list({item.id for item, _version in pairs if item.id is not None})
    interpreted: dict[str, list[str]] = {}
    for uid, target in session.connection().execute(_INTERPRETED_BY, {"uids": uids}):
        interpreted.setdefault(target, []).append(uid)
    urls: dict[int, dict[str, str]] = {}
    labels = settings.agency.labels.model_dump()
    if ids:
        for item_id, channel, url in session.connection().execute(_CHANNEL_URLS, {"ids": ids}):
            urls.setdefault(item_id, {})[channel] = url
    return [
        version_view(
            item,
            version,
            public_base_url=settings.public_base_url,
            agency_name=settings.agency.name,
            interpreted_by=tuple(interpreted.get(item.uid, ())),
            channel_urls=urls.get(item.id, {}) if item.id is not None else {},
            labels=labels,
        )
        for item, version in pairs
    ]


def view_of(session: Session, settings: Settings, item: AnyItem, version: ItemVersion) -> VersionView:
    return views_of(session, settings, [(item, version)])[0]
