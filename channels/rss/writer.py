"""Feed documents (feedgen) from stored entries, and their atomic placement on disk."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from channels.rss.entry import DISCLOSURE_NS, DISCLOSURE_PREFIX, SHANGHAI, subject_label

ATOM_NS = "http://www.w3.org/2005/Atom"
# The order the disclosure elements appear in; docs/feeds.md describes each.
DISCLOSURE_FIELDS = (
    "indexNumber",
    "docNumber",
    "issueDate",
    "issuingBody",
    "validity",
    "validityChangedOn",
    "itemType",
    "subject",
    "version",
)


@dataclass(frozen=True)
class FeedMeta:
    key: str
    title: str
    description: str
    site_url: str
    self_rss: str
    self_atom: str
    updated: datetime
    hub_url: str | None
    author: str


def _disclosure_entry_extension() -> type[BaseEntryExtension]:
    class DisclosureEntryExtension(BaseEntryExtension):  # type: ignore[misc]
        def __init__(self) -> None:
            self.fields: Mapping[str, str] = {}
            self.updated = ""

        def extend_ns(self) -> dict[str, str]:
            return {DISCLOSURE_PREFIX: DISCLOSURE_NS}

        def _extend(self, entry: Any) -> Any:
            for name in DISCLOSURE_FIELDS:
                value = self.fields.get(name)
                if value:
                    xml_elem(f"{{{DISCLOSURE_NS}}}{name}", entry).text = value
            return entry

        def extend_rss(self, entry: Any) -> Any:
            # RSS 2.0 has no "updated": carry Atom's, so readers see corrections (feedparser does).
            if self.updated:
                xml_elem(f"{{{ATOM_NS}}}updated", entry).text = self.updated
            return self._extend(entry)

        def extend_atom(self, entry: Any) -> Any:
            return self._extend(entry)

    return DisclosureEntryExtension


def _disclosure_feed_extension(hub_url: str | None) -> type[BaseExtension]:
    class DisclosureFeedExtension(BaseExtension):  # type: ignore[misc]
        def extend_ns(self) -> dict[str, str]:
            return {DISCLOSURE_PREFIX: DISCLOSURE_NS}

        def extend_rss(self, feed: Any) -> Any:
            # feedgen writes only the self atom:link into RSS; WebSub discovery needs rel=hub too.
            if hub_url:
                channel = feed[0]
                xml_elem(f"{{{ATOM_NS}}}link", channel, href=hub_url, rel="hub")
            return feed

    return DisclosureFeedExtension


def build(meta: FeedMeta, entries: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """(RSS 2.0 bytes, Atom 1.0 bytes) for one feed; deterministic for the same input."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension(
        "disclosure",
        _disclosure_feed_extension(meta.hub_url),
        _disclosure_entry_extension(),
        atom=True,
        rss=True,
    )
    fg.id(meta.self_atom)
    fg.title(meta.title)
    fg.subtitle(meta.description)
    fg.description(meta.description)
    fg.author({"name": meta.author})
    fg.language("zh-CN")
    fg.generator("publisher")
    fg.updated(meta.updated)
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.guid(e["id"], permalink=True)
        fe.title(e["title"])
        fe.link(href=e["link"], rel="alternate")
        summary = e["summary"] or e["title"]
        fe.summary(summary)  # Atom: a text construct, escaped by the XML writer
        # RSS 2.0 readers render <description> as HTML: plain text must be escaped first, or
        # a summary containing "<script>" as text would become markup in the reader.
        fe.description(html.escape(summary))
        # description() also fills Atom's content; give Atom the real HTML body (or the summary)
        fe.content(e["content"] or html.escape(summary), type="html")
        for c in e["categories"]:
            fe.category(term=c["term"], scheme=c.get("scheme"))
        fe.author({"name": e["author"]})
        fe.dc.dc_creator(e["author"])
        fe.published(datetime.fromisoformat(e["published"]))
        fe.updated(datetime.fromisoformat(e["updated"]))
        fe.disclosure.fields = e["disclosure"]
        fe.disclosure.updated = e["updated"]
    # feedgen takes the RSS channel <link> from the LAST link added, so the site link goes last.
    hub = [{"href": meta.hub_url, "rel": "hub"}] if meta.hub_url else []
    alternate = {"href": meta.site_url, "rel": "alternate", "type": "text/html"}
    fg.link(
        [{"href": meta.self_rss, "rel": "self", "type": "application/rss+xml"}, *hub, alternate], replace=True
    )
    rss: bytes = fg.rss_str(pretty=False)
    fg.link(
        [{"href": meta.self_atom, "rel": "self", "type": "application/atom+xml"}, *hub, alternate],
        replace=True,
    )
    atom: bytes = fg.atom_str(pretty=False)
    return rss, atom


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes, *, mtime: float) -> None:
    """Write beside the target, fsync, set the modification time, then rename over it: a
    reader (or the website's web server) sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_feed(out_dir: Path, key: str, ext: str, data: bytes, *, mtime: float, precompress: bool) -> None:
    path = out_dir / f"{key}.{ext}"
    write_atomic(path, data, mtime=mtime)
    if precompress:
        # mtime=0 in the gzip header keeps the .gz bytes a pure function of the feed bytes.
        write_atomic(path.with_name(path.name + ".gz"), gzip.compress(data, 6, mtime=0), mtime=mtime)


def index_document(feeds: list[dict[str, Any]]) -> bytes:
    """index.json: every feed with its label and files, and the subject id → name map the
    service's pages use for discovery links (the core never imports this adapter)."""
    doc = {
        "version": 1,
        "namespace": DISCLOSURE_NS,
        "feeds": feeds,
        "subjects": {f["key"].split("/", 1)[1]: f["label"] for f in feeds if f["kind"] == "subject"},
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def feed_title(site_title: str, kind: str, label: str) -> str:
    if kind == "all":
        return site_title
    return f"{site_title} · {subject_label(label) if kind == 'subject' else label}"


def as_local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).astimezone(SHANGHAI)
