"""The feed files read back as a subscriber gets them, for post-publication inspection.

Each RSS 2.0 or Atom 1.0 document the adapter wrote (and its precompressed `.gz`, which a web
server's gzip_static hands out instead) is parsed into what it shows of each entry: the
disclosure `version` and `validity` elements and whether it is withdrawn (an RSS `#withdrawn`
notice item, an Atom RFC 6721 tombstone, or the entry's notice form, validity 已撤回). A file
is parsed once per version of it (inode, mtime and size), as the feed routes serve it.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from channels.rss.entry import DISCLOSURE_NS
from channels.rss.writer import ATOM_NS, TOMBSTONE_NS, WITHDRAWN_FRAGMENT

WITHDRAWN_VALIDITY = "已撤回"


@dataclass(frozen=True)
class Shown:
    """What one feed document shows of one entry."""

    version: int | None
    validity: str | None
    withdrawn: bool


# entry id -> what a feed document shows
Entries = dict[str, Shown]


def _version(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _shown(element: ElementTree.Element, *, withdrawn: bool) -> Shown:
    validity = element.findtext(f"{{{DISCLOSURE_NS}}}validity")
    return Shown(
        version=_version(element.findtext(f"{{{DISCLOSURE_NS}}}version")),
        validity=validity,
        withdrawn=withdrawn or validity == WITHDRAWN_VALIDITY,
    )


def parse(data: bytes) -> Entries | None:
    """Entry id -> what an RSS or Atom document shows of it; None when `data` is not one."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    out: dict[str, Shown] = {}
    if root.tag == "rss":
        for item in root.iterfind("channel/item"):
            guid = (item.findtext("guid") or "").strip()
            notice = guid.endswith(WITHDRAWN_FRAGMENT)
            out[guid.removesuffix(WITHDRAWN_FRAGMENT)] = _shown(item, withdrawn=notice)
        return out
    if root.tag == f"{{{ATOM_NS}}}feed":
        for entry in root.iterfind(f"{{{ATOM_NS}}}entry"):
            out[(entry.findtext(f"{{{ATOM_NS}}}id") or "").strip()] = _shown(entry, withdrawn=False)
        for gone in root.iterfind(f"{{{TOMBSTONE_NS}}}deleted-entry"):
            out[gone.get("ref", "")] = Shown(version=None, validity=None, withdrawn=True)
        return out
    return None


class ServedFiles:
    """Parsed feed files by path, each parsed again only when the file was replaced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int, int], Entries]] = {}

    def entries(self, path: Path) -> Entries | None:
        """What the file at `path` shows (a `.gz` is read decompressed; a file that is not a
        feed shows nothing); None when there is no such file. Raises OSError when it exists
        but cannot be read."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._parsed.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = path.read_bytes()
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                data = b""
        parsed = parse(data) or {}
        with self._lock:
            self._parsed[path] = (stamp, parsed)
        return parsed
