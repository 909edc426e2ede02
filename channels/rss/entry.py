"""Pure rendering of one item version into the JSON-ready feed entry the rss store keeps.

Everything a feed shows is decided here, from the `VersionView` alone (no clock, no I/O), so
the same version always yields the same entry and the same feed bytes.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.domain.item import ITEM_TYPE_LABELS, ItemType, Operation, Validity, VersionView
from publisher.domain.sanitize import clean_output

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A name, never fetched: it identifies the disclosure elements (docs/feeds.md). `.example` is
# reserved (RFC 6761), so it can never collide with someone else's vocabulary; change it only
# together with the version segment.
DISCLOSURE_NS = "https://publisher.example/ns/disclosure/1.0"
DISCLOSURE_PREFIX = "disclosure"

VALID = Validity.VALID
WITHDRAWN_MARK = "【已撤回】"

# XML 1.0 allows only these characters; lxml refuses the rest (a stray \x0b from a pasted Word
# document would otherwise fail the whole feed).
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return _XML_INVALID.sub("", text)


def subject_id(subject: str) -> str:
    """A stable ASCII file name for a subject class (the Chinese name lives in index.json)."""
    return "s" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:12]


def subject_levels(subject: str) -> list[str]:
    """`财政\\预算` belongs to `财政` and to `财政\\预算`: one feed per level of the hierarchy."""
    parts = [p.strip() for p in subject.replace("/", "\\").split("\\") if p.strip()]
    return ["\\".join(parts[: i + 1]) for i in range(len(parts))]


def subject_label(subject: str) -> str:
    return subject.replace("\\", " / ")


def feed_keys(item_type: str, subject: str) -> list[str]:
    """Every feed an entry appears in: all, its type, and each level of its subject class."""
    return ["all", f"type/{item_type}"] + [f"subject/{subject_id(s)}" for s in subject_levels(subject)]


def feed_labels(item_type: str, subject: str) -> dict[str, tuple[str, str]]:
    """feed key -> (kind, human label) for the feeds of one entry."""
    out: dict[str, tuple[str, str]] = {"all": ("all", "全部信息")}
    out[f"type/{item_type}"] = ("type", ITEM_TYPE_LABELS.get(ItemType(item_type), item_type))
    for level in subject_levels(subject):
        out[f"subject/{subject_id(level)}"] = ("subject", level)
    return out


def local_iso(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).isoformat()


def validity_note(version: VersionView) -> str:
    if version.validity == VALID:
        return ""
    when = f"（{version.validity_changed_on.isoformat()}起）" if version.validity_changed_on else ""
    return f"本文件{version.validity}{when}。"


def render_entry(version: VersionView, op: Operation) -> dict[str, Any]:
    """The entry for `version`; a withdrawal yields the withdrawal notice form (the channel
    decides whether to keep it or drop the entry)."""
    published = version.published_at or version.created_at
    # A version frozen before a scheduled release is "updated" no earlier than it went out.
    updated = max(version.created_at, published)
    withdrawn = op is Operation.WITHDRAW or version.withdrawn
    link = version.channel_urls.get("cms") or version.public_url
    title = version.title
    summary = version.summary
    note = validity_note(version)
    if withdrawn:
        title = WITHDRAWN_MARK + title
        reason = f"撤回理由：{version.withdraw_reason}" if version.withdraw_reason else ""
        summary = f"该信息已撤回。{reason}"
        content = f"<p><strong>该信息已撤回。</strong>{html.escape(reason)}</p>"
    else:
        if version.validity != VALID:
            title = f"【{version.validity}】{title}"
            summary = note + summary
        parts = []
        if note:
            parts.append(f"<p><strong>{html.escape(note)}</strong></p>")
        parts.append(version.body_html)
        if version.attachments:
            items = "".join(
                f'<li><a href="{html.escape(a.get("url", ""), quote=True)}">{html.escape(a.get("title", ""))}</a></li>'
                for a in version.attachments
            )
            parts.append(f"<p>附件：</p><ul>{items}</ul>")
        content = "".join(parts)
    categories = [{"term": version.type_label, "scheme": f"{DISCLOSURE_NS}#type"}]
    categories += [{"term": s, "scheme": f"{DISCLOSURE_NS}#subject"} for s in subject_levels(version.subject)]
    disclosure = {
        "indexNumber": version.index_number,
        "docNumber": version.doc_number or "",
        "issueDate": version.issue_date.isoformat(),
        "issuingBody": version.issuing_body,
        "validity": "已撤回" if withdrawn else version.validity,
        "validityChangedOn": version.validity_changed_on.isoformat() if version.validity_changed_on else "",
        "itemType": version.type.value,
        "subject": version.subject,
        "version": str(version.version),
    }
    return {
        "id": version.public_url,
        "uid": version.uid,
        "version": version.version,
        "type": version.type.value,
        "subject": version.subject,
        "title": xml_safe(title),
        "link": link,
        "summary": xml_safe(summary),
        "content": clean_output(xml_safe(content)),
        "categories": [{k: xml_safe(v) for k, v in c.items()} for c in categories],
        "author": xml_safe(version.issuing_body),
        "published": local_iso(published),
        "updated": local_iso(updated),
        "disclosure": {k: xml_safe(v) for k, v in disclosure.items()},
        "withdrawn": withdrawn,
    }
