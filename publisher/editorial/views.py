"""Build the read-only `VersionView` that channels render from a stored version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from publisher.domain.item import DEFAULT_LABELS, ItemType, VersionView
from publisher.store.models import AnyItem, ItemVersion


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
        disclosure=c.get("disclosure", "主动公开"),
        scope=c.get("scope", "面向社会"),
        validity=c.get("validity", "有效"),
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
