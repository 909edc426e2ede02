"""Serving the rss channel's feed files at stable URLs, with validators and gzip.

    /feeds/all.rss  /feeds/all.atom
    /feeds/type/{type}.rss|.atom       /feeds/subject/{id}.rss|.atom      /feeds/index.json

The files are written by the rss adapter into its output folder; the core never imports the
adapter, so the folder is computed here from the same settings the adapter reads:
`channels.rss.output_dir`, else `<data_dir>/channels/rss/feeds` (the adapter's default
`<context.data_dir>/feeds`, with context.data_dir = `<data_dir>/channels/<kind>`). The
adapter also writes `index.json` (every feed, and the subject id → name map), which the
public pages use for discovery links.

Each file is read, hashed and gzipped once per version of the file (keyed by inode, mtime
and size, checked with one stat per request) and then served from memory: a strong ETag
(content hash), Last-Modified (the file's mtime, which the adapter sets to the time the
feed last changed), and 304 for If-None-Match / If-Modified-Since.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from publisher.settings import Settings

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
DEFAULT_MAX_AGE = 300
_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


def feed_dir(settings: Settings) -> Path:
    """Where the rss adapter writes its files (same default as channels.rss)."""
    configured = settings.channel("rss").get("output_dir")
    if configured:
        return Path(str(configured))
    return settings.data_dir / "channels" / "rss" / "feeds"


def read_index(settings: Settings) -> dict[str, Any]:
    """The adapter's index.json, or an empty index before the first feed was written."""
    cached = _CACHE.get(feed_dir(settings) / "index.json")
    if cached is None:
        return {"feeds": [], "subjects": {}}
    data: dict[str, Any] = json.loads(cached.raw)
    return data


@dataclass(frozen=True)
class Cached:
    signature: tuple[int, int, int]
    raw: bytes
    gz: bytes
    digest: str
    last_modified: str
    mtime: int


class FileCache:
    """Feed files in memory, each revalidated with one stat() per request."""

    def __init__(self) -> None:
        self._files: dict[Path, Cached] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Cached | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._files.pop(path, None)
            return None
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._files.get(path)
        if hit is not None and hit.signature == signature:
            return hit
        return self._load(path)

    def _load(self, path: Path) -> Cached | None:
        with self._lock:
            try:
                with open(path, "rb") as fh:
                    # fstat of the open file: the bytes read and the signature belong together,
                    # even if the adapter renames a new version into place meanwhile.
                    st = os.fstat(fh.fileno())
                    raw = fh.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
            signature = (st.st_ino, st.st_mtime_ns, st.st_size)
            hit = self._files.get(path)
            if hit is not None and hit.signature == signature:
                return hit
            cached = Cached(
                signature=signature,
                raw=raw,
                gz=gzip.compress(raw, 6, mtime=0),
                digest=hashlib.sha256(raw).hexdigest()[:32],
                last_modified=formatdate(int(st.st_mtime), usegmt=True),
                mtime=int(st.st_mtime),
            )
            self._files[path] = cached
            return cached

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


_CACHE = FileCache()


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _qzero(q[2:]))
    return False


def _qzero(value: str) -> bool:
    try:
        return float(value) == 0.0
    except ValueError:
        return False


def _etag_matches(header: str, digest: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): either representation's tag, W/ or not, matches.
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"').removesuffix("-gz") == digest:
            return True
    return False


def _not_modified(request: Request, cached: Cached) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return _etag_matches(inm, cached.digest)
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return cached.mtime <= since
    return False


def serve_file(request: Request, path: Path, content_type: str, max_age: int) -> Response:
    """The cached file with validators, 304 when the client's copy is current, gzip when
    accepted. 404 when the adapter has not written it."""
    cached = _CACHE.get(path)
    if cached is None:
        raise HTTPException(404, "未找到该订阅源 / no such feed")
    gz = _accepts_gzip(request.headers.get("accept-encoding"))
    headers = {
        "ETag": f'"{cached.digest}-gz"' if gz else f'"{cached.digest}"',
        "Last-Modified": cached.last_modified,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, cached):
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
        return Response(cached.gz, headers=headers, media_type=content_type)
    return Response(cached.raw, headers=headers, media_type=content_type)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


def _max_age(settings: Settings) -> int:
    try:
        return int(settings.feeds.get("max_age", DEFAULT_MAX_AGE))
    except (TypeError, ValueError):
        return DEFAULT_MAX_AGE


def _feed(request: Request, key: str, fmt: str) -> Response:
    settings = _settings(request)
    return serve_file(request, feed_dir(settings) / f"{key}.{fmt}", CONTENT_TYPES[fmt], _max_age(settings))


def _named(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise HTTPException(404, "未找到该订阅源 / no such feed")
    return f"{kind}/{name}"


router = APIRouter(tags=["feeds"], include_in_schema=False)
METHODS = ["GET", "HEAD"]


@router.api_route("/feeds/all.rss", methods=METHODS)
async def all_rss(request: Request) -> Response:
    return _feed(request, "all", "rss")


@router.api_route("/feeds/all.atom", methods=METHODS)
async def all_atom(request: Request) -> Response:
    return _feed(request, "all", "atom")


@router.api_route("/feeds/type/{name}.rss", methods=METHODS)
async def type_rss(request: Request, name: str) -> Response:
    return _feed(request, _named("type", name), "rss")


@router.api_route("/feeds/type/{name}.atom", methods=METHODS)
async def type_atom(request: Request, name: str) -> Response:
    return _feed(request, _named("type", name), "atom")


@router.api_route("/feeds/subject/{name}.rss", methods=METHODS)
async def subject_rss(request: Request, name: str) -> Response:
    return _feed(request, _named("subject", name), "rss")


@router.api_route("/feeds/subject/{name}.atom", methods=METHODS)
async def subject_atom(request: Request, name: str) -> Response:
    return _feed(request, _named("subject", name), "atom")


@router.api_route("/feeds/index.json", methods=METHODS)
async def index_json(request: Request) -> Response:
    settings = _settings(request)
    return serve_file(request, feed_dir(settings) / "index.json", CONTENT_TYPES["json"], _max_age(settings))


__all__ = ["CONTENT_TYPES", "FileCache", "feed_dir", "read_index", "router", "serve_file"]
