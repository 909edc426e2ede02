"""Pure rendering of one item version into the WordPress post the cms channel sends.

The post content carries the metadata panel the bureau's pages show (印发日期, 文号, 发文机关,
是否有效, 索取号, 内容描述) so it reads right under any theme; the same values go into the
registered post meta (channels/cms/mu-plugin/publisher-disclosure.php) for machines.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from publisher.domain.item import ItemType, Operation, Validity, VersionView
from publisher.domain.sanitize import clean_output

__all__ = [
    "DEFAULT_CATEGORY_SLUGS",
    "DOCUMENT_EXTENSIONS",
    "WITHDRAWN_PREFIX",
    "media_sources",
    "post_meta",
    "post_slug",
    "render_body",
    "rewrite_links",
]

DEFAULT_CATEGORY_SLUGS: dict[ItemType, str] = {
    ItemType.POLICY: "policy",
    ItemType.INTERPRETATION: "policy-interpretation",
    ItemType.FEE_CHANGE: "fee-change",
    ItemType.PROCUREMENT_RESULT: "procurement-result",
    ItemType.CONSULTATION: "consultation",
    ItemType.NOTICE: "notice",
    ItemType.GUIDE: "disclosure-guide",
    ItemType.RULES: "disclosure-rules",
}

# In-body links to these are files to re-host, not pages to link to.
DOCUMENT_EXTENSIONS = frozenset(
    {
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".ofd",
        ".wps",
        ".txt",
        ".csv",
        ".zip",
        ".rar",
        ".7z",
    }
)
WITHDRAWN_PREFIX = "【已撤回】"
_SLUG_UNSAFE = re.compile(r"[^a-z0-9-]+")


def post_slug(version: VersionView) -> str:
    """A stable ASCII slug: the 索取号 where it has one (never reassigned), else the uid.
    WordPress would otherwise percent-encode the Chinese title, and silently append -2 on
    a repeated title."""
    base = _SLUG_UNSAFE.sub("-", (version.index_number or "").lower()).strip("-")
    return base or _SLUG_UNSAFE.sub("-", version.uid.lower()).strip("-")


def post_meta(version: VersionView) -> dict[str, Any]:
    """The registered post meta; '' for absent values (null would delete the key)."""
    return {
        "publisher_uid": version.uid,
        "publisher_version": version.version,
        "index_number": version.index_number or "",
        "doc_number": version.doc_number or "",
        "issue_date": version.issue_date.isoformat(),
        "issuing_body": version.issuing_body or "",
        "validity": version.validity,
        "validity_changed_on": version.validity_changed_on.isoformat() if version.validity_changed_on else "",
    }


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def metadata_panel(version: VersionView) -> str:
    names = version.labels  # the agency's vocabulary ([agency.labels]), the same on every page
    rows = [
        (names["index_number"], version.index_number or "—"),
        (names["issuing_body"], version.issuing_body or "—"),
        (names["issue_date"], version.issue_date.isoformat()),
        (names["doc_number"], version.doc_number or "无文号"),
        (names["validity"], version.validity),
        ("内容描述", version.description or "—"),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="publisher-disclosure-meta"><tbody>{cells}</tbody></table>'


def validity_banner(version: VersionView) -> str:
    """Shown on top when the document no longer applies, so a reader landing from a search
    engine cannot miss it."""
    if version.validity is Validity.VALID:
        return ""
    when = f"（{version.validity_changed_on.isoformat()}起）" if version.validity_changed_on else ""
    return (
        '<p class="publisher-validity-banner"><strong>'
        f"本文件{_e(version.validity)}{_e(when)}，仅供查阅。"
        "</strong></p>"
    )


def attachments_list(attachments: tuple[Mapping[str, str], ...]) -> str:
    if not attachments:
        return ""
    items = "".join(
        f'<li><a href="{_e(a["url"])}">{_e(a.get("title") or a["url"])}</a></li>' for a in attachments
    )
    return f'<div class="publisher-attachments"><h3>附件</h3><ul>{items}</ul></div>'


def withdrawal_notice(version: VersionView) -> str:
    reason = f"<p>撤回原因：{_e(version.withdraw_reason)}</p>" if version.withdraw_reason else ""
    return (
        '<div class="publisher-withdrawal-notice">'
        f"<p><strong>本信息已撤回。</strong>原标题：{_e(version.title)}（索取号 {_e(version.index_number or '—')}）</p>"
        f"{reason}</div>"
    )


def render_body(version: VersionView, op: Operation, *, withdraw_mode: str) -> dict[str, Any]:
    """The channel-specific part of the payload: the post fields, its category and tags, and
    the files send() re-hosts in the media library before writing the post."""
    meta = post_meta(version)
    if op is Operation.WITHDRAW:
        title = WITHDRAWN_PREFIX + version.title
        content = withdrawal_notice(version) + metadata_panel(version)
        excerpt = "本信息已撤回。"
        media: list[dict[str, str]] = []
    else:
        title = version.title
        content = (
            validity_banner(version)
            + metadata_panel(version)
            + f'<div class="publisher-body">{version.body_html}</div>'
            + attachments_list(version.attachments)
        )
        excerpt = version.description
        media = media_sources(version.body_html, version.attachments)
    return {
        "uid": version.uid,
        "version": version.version,
        "type": version.type.value,
        "withdraw_mode": withdraw_mode,
        "post": {
            # WordPress prints title and excerpt as HTML (and does not filter them for an
            # account that may post unfiltered HTML): they are text here, so escape them.
            "title": _e(title),
            "content": clean_output(content),
            "excerpt": _e(excerpt),
            "status": "publish",
            "slug": post_slug(version),
            "meta": meta,
        },
        "category_name": version.type_label,
        "tags": list(version.keywords),
        "media": media,
    }


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def media_sources(body_html: str, attachments: tuple[Mapping[str, str], ...]) -> list[dict[str, str]]:
    """Files to re-host: in-article images, in-body links to documents, and the attachments.
    Only http(s) sources; each URL once, in document order."""
    found: dict[str, dict[str, str]] = {}
    soup = BeautifulSoup(body_html, "html.parser")
    for img in soup.find_all("img"):
        src = str(img.get("src") or "")
        if _is_http(src) and src not in found:
            found[src] = {"url": src, "kind": "image", "title": str(img.get("alt") or "")}
    for a in soup.find_all("a"):
        href = str(a.get("href") or "")
        path = urlsplit(href).path.lower()
        if _is_http(href) and href not in found and any(path.endswith(x) for x in DOCUMENT_EXTENSIONS):
            found[href] = {"url": href, "kind": "file", "title": a.get_text(strip=True)}
    for att in attachments:
        url = att.get("url", "")
        if _is_http(url) and url not in found:
            found[url] = {"url": url, "kind": "file", "title": att.get("title", "")}
    return list(found.values())


def rewrite_links(content: str, mapping: Mapping[str, str]) -> str:
    """Point <img src> and <a href> at their media-library copies."""
    if not mapping:
        return content
    soup = BeautifulSoup(content, "html.parser")
    for tag, attr in (("img", "src"), ("a", "href")):
        for el in soup.find_all(tag):
            value = el.get(attr)
            if isinstance(value, str) and value in mapping:
                el[attr] = mapping[value]
    return clean_output(str(soup))
