"""The rss channel: RSS 2.0 and Atom 1.0 feeds (all items, per type, per subject class)
written as static files, from the channel's own store of entries.

A delivery upserts (publish/update) or removes (withdraw) one entry in the store, then
regenerates only the feeds that entry belongs to (or belonged to), each from its newest
`feed_size` entries. Files are replaced atomically; `index.json` lists every feed.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from channels import _http
from channels.base import (
    Channel,
    ChannelConfigError,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    CopyRef,
    Holding,
    Operation,
    Payload,
    PermanentError,
    Receipt,
    TransientError,
)
from channels.rss import writer
from channels.rss.entry import feed_labels, render_entry
from channels.rss.served import ServedFiles
from channels.rss.store import Change, FeedStore
from publisher.domain.item import VersionView

log = logging.getLogger(__name__)

FORMATS = ("rss", "atom")


class RssSettings(ChannelSettings):
    enabled: bool = True
    # Where the static feed files go; default `<data_dir>/feeds` (data_dir is
    # `<PUBLISHER_DATA_DIR>/channels/rss`). publisher.web.feeds computes the same default.
    output_dir: Path | None = None
    feed_size: int = Field(default=50, ge=1, le=1000)
    site_title: str = "上海市财政局 政府信息公开"
    # Defaults to the deployment's public base URL (the service's own pages and /feeds).
    public_base_url: str | None = None
    # A withdrawn item stays in its feeds so subscribers learn of it. False: as a tombstone
    # (Atom: RFC 6721 at:deleted-entry; RSS: a short 撤回 notice item under its own guid);
    # True: as the entry itself in its notice form (【已撤回】title, the reason, no body).
    withdrawal_notice: bool = False
    # Also write `<feed>.gz` beside each file, for a web server's gzip_static.
    precompress: bool = True
    websub_hub_url: str | None = Field(default=None, pattern=r"^https?://")


def default_output_dir(data_dir: Path) -> Path:
    return data_dir / "feeds"


class RssChannel(Channel):
    kind: ClassVar[str] = "rss"
    link_rank: ClassVar[int | None] = 1  # the feeds carry the full body
    capabilities: ClassVar[frozenset[Operation]] = frozenset(Operation)
    settings_model: ClassVar[type[ChannelSettings]] = RssSettings

    def __init__(
        self, settings: ChannelSettings, context: ChannelContext, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, RssSettings)
        self.rss_settings = settings
        self.output_dir = settings.output_dir or default_output_dir(context.data_dir)
        self.base_url = (settings.public_base_url or context.public_base_url).rstrip("/")
        self.clock = clock
        self._lock = threading.Lock()
        self._store: FeedStore | None = None
        self._served = ServedFiles()

    def probe(self) -> str:
        """Live check: the feed directory and the entry store are writable."""
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            marker = self.output_dir / ".probe"
            marker.write_bytes(b"")
            marker.unlink()
        except OSError as exc:
            raise ChannelConfigError(f"RSS 输出目录不可写 / feed directory not writable: {exc}") from exc
        self.store  # noqa: B018 - opens (creates) the entry store, raising ChannelConfigError
        return f"输出目录可写 / feed directory writable: {self.output_dir}"

    def dependencies(self) -> dict[str, Callable[[], str]]:
        """Readiness: the feed folder and the entry store can be written."""
        return {"feeds": self.probe}

    # -- the store and the cross-process lock ---------------------------------------------------
    @property
    def store(self) -> FeedStore:
        if self._store is None:
            try:
                self._store = FeedStore(self.context.data_dir / "entries.sqlite3")
            except OSError as exc:
                raise ChannelConfigError(f"RSS 存储不可用 / rss store unavailable: {exc}") from exc
        return self._store

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One regeneration at a time, across threads and worker processes: otherwise a slow
        writer could put an older rendering of a feed over a newer one."""
        with self._lock:
            self.context.data_dir.mkdir(parents=True, exist_ok=True)
            with open(self.context.data_dir / ".lock", "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- the contract -----------------------------------------------------------------------------
    def render(self, version: VersionView, op: Operation) -> Payload:
        entry = render_entry(version, op)
        return Payload(
            kind=self.kind,
            operation=op,
            uid=version.uid,
            version=version.version,
            body={
                "entry": entry,
                "feeds": {k: list(v) for k, v in feed_labels(entry["type"], entry["subject"]).items()},
            },
        )

    def send(self, payload: Payload, *, key: str) -> Receipt:
        entry: dict[str, Any] = dict(payload.body["entry"])
        feeds = {k: (v[0], v[1]) for k, v in payload.body["feeds"].items()}
        try:
            with self._exclusive():
                change = self.store.put(entry, feeds, now=self.clock())
                written = self.regenerate(change.affected)
        except ChannelError:
            raise
        except OSError as exc:
            # A full disk or a permission problem: ops fix it, the ledger retries.
            raise TransientError(f"写入订阅源失败 / cannot write feeds: {exc}"[:300]) from exc
        except (KeyError, ValueError) as exc:
            raise PermanentError(f"订阅条目无效 / invalid feed entry: {exc}"[:300]) from exc
        if written:
            self._announce(written)
        return Receipt(
            external_id=entry["id"],
            url=entry["id"],
            data={"feeds": sorted(change.affected), "written": sorted(written), "stale": change.stale},
        )

    # -- regeneration -----------------------------------------------------------------------------
    def regenerate(self, keys: frozenset[str] | set[str] | list[str]) -> list[str]:
        """Rebuild the given feeds from the store; returns the keys whose files changed. Each
        feed reads its newest `feed_size` entries only."""
        written: list[str] = []
        size = self.rss_settings.feed_size
        for key in sorted(keys):
            row = self.store.feed(key)
            if row is None:
                continue
            meta = self._meta(key, row.kind, row.label, row.changed_at)
            rss, atom = writer.build(
                meta, self.store.recent(key, size), tombstones=not self.rss_settings.withdrawal_notice
            )
            rss_hash, atom_hash = writer.digest(rss), writer.digest(atom)
            # the files as this writer left them (size and time), so a file lost or changed on
            # disk is written again (a re-push after inspection found it drifted)
            on_disk = all(
                writer.intact(
                    self.output_dir / f"{key}.{ext}", data, row.changed_at, gz=self.rss_settings.precompress
                )
                for ext, data in (("rss", rss), ("atom", atom))
            )
            if on_disk and (row.rss_hash, row.atom_hash) == (rss_hash, atom_hash):
                continue
            for ext, data in (("rss", rss), ("atom", atom)):
                writer.write_feed(
                    self.output_dir,
                    key,
                    ext,
                    data,
                    mtime=row.changed_at,
                    precompress=self.rss_settings.precompress,
                )
            self.store.record_hashes(key, rss_hash, atom_hash)
            written.append(key)
        if written:
            self._write_index()
        return written

    def rebuild_all(self) -> list[str]:
        """Regenerate every feed the store knows (after a settings change or lost files)."""
        with self._exclusive():
            return self.regenerate([f.key for f in self.store.feeds()])

    def _meta(self, key: str, kind: str, label: str, changed_at: float) -> writer.FeedMeta:
        site = f"{self.base_url}/items"
        if kind == "type":
            site += f"?type={key.split('/', 1)[1]}"
        title = writer.feed_title(self.rss_settings.site_title, kind, label)
        return writer.FeedMeta(
            key=key,
            title=title,
            description=f"{title}：主动公开的政府信息 / government information disclosure feed",
            site_url=site,
            self_rss=f"{self.base_url}/feeds/{key}.rss",
            self_atom=f"{self.base_url}/feeds/{key}.atom",
            updated=writer.as_local(changed_at),
            hub_url=self.rss_settings.websub_hub_url,
            author=self.context.agency_name,
        )

    def _write_index(self) -> None:
        feeds = [
            {
                "key": f.key,
                "kind": f.kind,
                "label": f.label,
                "title": writer.feed_title(self.rss_settings.site_title, f.kind, f.label),
                "rss": f"{f.key}.rss",
                "atom": f"{f.key}.atom",
            }
            for f in self.store.feeds()
        ]
        writer.write_atomic(self.output_dir / "index.json", writer.index_document(feeds), mtime=self.clock())

    def _announce(self, keys: list[str]) -> None:
        self.context.on_change("rss.feeds", {"feeds": keys})
        hub = self.rss_settings.websub_hub_url
        if not hub:
            return
        topics = [f"{self.base_url}/feeds/{k}.{ext}" for k in keys for ext in FORMATS]
        # A hub that is down must not fail a delivery that already reached the feeds: log only.
        try:
            with _http.make_client(timeout=_HUB_TIMEOUT) as client:
                response = _http.request(client, "POST", hub, data={"hub.mode": "publish", "hub.url": topics})
                _http.raise_for_status(response, "WebSub hub")
        except ChannelError as exc:
            log.warning("WebSub ping to %s failed: %s", hub, exc.message)
        else:
            log.info("WebSub ping to %s: %d topics", hub, len(topics))

    def inventory(self) -> Iterable[Holding]:
        """The channel's own entry store: every item it publishes, tombstones as not live."""
        return [self._holding(*row) for row in self.store.holdings()]

    def inspect(self, ref: CopyRef) -> Holding | None:
        """What subscribers get of one item: its entry in every feed file that should carry it
        (each feed it is among the newest `feed_size` of, RSS and Atom, and their `.gz` when
        precompressed), parsed and held against the entry store the files are made from.

        None: no trace (not in the store, or in none of those files). Missing from some of
        them: not public, naming the files. Another version or validity, or withdrawn, in a
        file: what that file shows. The store's own entry when it already differs from the
        delivery, or when the entry has aged out of every feed's window (no file carries it
        by design)."""
        stored = next((self._holding(*row) for row in self.store.holdings(ref.uid)), None)
        if stored is None or not stored.live or stored.version != ref.version:
            return stored
        entry = self.store.entry(ref.uid)
        keys = self.store.windows(ref.uid, self.rss_settings.feed_size)
        if entry is None or not keys:
            return stored
        names = [f"{key}.{ext}" for key in keys for ext in FORMATS]
        if self.rss_settings.precompress:
            names += [f"{name}.gz" for name in names]
        missing: list[str] = []
        for name in names:
            try:
                entries = self._served.entries(self.output_dir / name)
            except OSError as exc:
                raise TransientError(f"读取订阅源失败 / cannot read {name}: {exc}"[:300]) from exc
            if entries is None and name.endswith(".gz"):
                continue  # none precompressed: a web server's gzip_static serves the file itself
            shown = (entries or {}).get(entry["id"])
            if shown is None:
                missing.append(name)
            elif shown.withdrawn:
                return replace(
                    stored, live=False, validity=None, status=f"{name} 中已撤回 / withdrawn in {name}"
                )
            elif (shown.version, shown.validity) != (stored.version, stored.validity):
                return replace(stored, version=shown.version, validity=shown.validity)
        if len(missing) == len(names):
            return None
        if missing:
            listed = ", ".join(missing[:4]) + ("…" if len(missing) > 4 else "")
            return replace(stored, live=False, validity=None, status=f"订阅源缺少此条 / not in {listed}")
        return stored

    @staticmethod
    def _holding(uid: str, version: int, withdrawn: bool, validity: str | None) -> Holding:
        return Holding(
            uid=uid,
            version=version,
            validity=None if withdrawn else validity,
            live=not withdrawn,
            external_id=uid,
            status="撤回 / withdrawn" if withdrawn else None,
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


_HUB_TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)


__all__ = ["Change", "RssChannel", "RssSettings", "default_output_dir"]
