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
from xml.sax.saxutils import escape, quoteattr

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from channels.rss.entry import DISCLOSURE_NS, DISCLOSURE_PREFIX, SHANGHAI, subject_label

ATOM_NS = "http://www.w3.org/2005/Atom"
# RFC 6721: the Atom Tombstones extension (at:deleted-entry)
TOMBSTONE_NS = "http://purl.org/atompub/tombstones/1.0"
WITHDRAWN_FRAGMENT = "#withdrawn"
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


def _tombstones(atom: bytes, withdrawn: list[dict[str, Any]]) -> bytes:
    """Atom with an RFC 6721 `at:deleted-entry` per withdrawn entry, so a subscriber learns the
    entry is gone (instead of it silently dropping out of the window). Each element declares
    the namespace itself; they go at the end of the feed, after the entries."""
    if not withdrawn:
        return atom
    parts = []
    for e in withdrawn:
        comment = e["summary"] or "该信息已撤回。"
        parts.append(
            f'<at:deleted-entry xmlns:at="{TOMBSTONE_NS}" ref={quoteattr(e["id"])} when={quoteattr(e["updated"])}>'
            f"<at:by><name>{escape(e['author'])}</name></at:by>"
            f'<at:comment xml:lang="zh-CN">{escape(comment)}</at:comment>'
            f'<link href={quoteattr(e["link"])} rel="alternate" type="text/html"/>'
            "</at:deleted-entry>"
        )
    end = atom.rindex(b"</feed>")
    return atom[:end] + "".join(parts).encode("utf-8") + atom[end:]


def build(meta: FeedMeta, entries: list[dict[str, Any]], *, tombstones: bool = True) -> tuple[bytes, bytes]:
    """(RSS 2.0 bytes, Atom 1.0 bytes) for one feed; deterministic for the same input.

    A withdrawn entry (`tombstones`): in Atom an `at:deleted-entry` (RFC 6721) referring to
    the entry's id; in RSS, which has no such thing, a short 撤回 notice item under its own
    guid (`<id>#withdrawn`), so readers show it as news rather than as a silent edit. Without
    `tombstones` a withdrawn entry stays in both as the notice form of the entry itself."""
    withdrawn = [e for e in entries if tombstones and e.get("withdrawn")]
    rss_only = {id(e) for e in withdrawn}
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
        if id(e) in rss_only:
            fe.guid(e["id"] + WITHDRAWN_FRAGMENT, permalink=False)
        else:
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
    # Atom: the withdrawn entries leave the entry list and become tombstones
    for fe in [fe for fe, e in zip(fg.entry(), entries, strict=True) if id(e) in rss_only]:
        fg.remove_entry(fe)
    fg.link(
        [{"href": meta.self_atom, "rel": "self", "type": "application/atom+xml"}, *hub, alternate],
        replace=True,
    )
    atom: bytes = _tombstones(fg.atom_str(pretty=False), withdrawn)
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


def intact(path: Path, data: bytes, mtime: float, *, gz: bool) -> bool:
    """`path` holds `data` as `write_feed` left it, by one stat: its size and modification time
    (and its `.gz` beside it with that time, when precompressed). A file lost, replaced or
    edited in place fails it; an edit that keeps both size and time does not."""
    try:
        st = path.stat()
        zipped = path.with_name(path.name + ".gz").stat() if gz else st
    except FileNotFoundError:
        return False
    return st.st_size == len(data) and abs(st.st_mtime - mtime) < 1e-3 and abs(zipped.st_mtime - mtime) < 1e-3


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
