"""Post-publication inspection: re-read every delivered live copy through its channel's own
lookup and record what differs as drift (publisher/delivery/drift.py).

    live_copies (one per item and channel, written by the ledger on delivery)
        │  due: next_inspect_at <= now (index on channel, next_inspect_at)
        ▼
    adapter.inspect(CopyRef)      the same client and mapping as its `inventory` (reconcile);
        │                         the feeds also parse the files they serve
        │  None → missing · not live → unpublished · other version / validity, or changed
        │  after our delivery → stale · outbound links of the body (egress guard) → link_dead,
        │  link_moved, on one copy per item only (`links_on`) · the channel answered an
        │  error → not checked (never "fine")
        ▼
    drift records + audit + `inspection.drift` alert; the copy's next date

Cadence: the executor's clock calls `tick` after each sweep (embedded and Celery beat
alike); a tick runs at most every `[inspection] tick_seconds`, in its own thread, and takes
per channel at most `rate_per_second * tick_seconds` copies due, paced at that rate, so
the work per tick follows what is due, never the size of the ledger. A copy is inspected
again after `interval_seconds` (daily), or `new_copy_interval_seconds` in its first
`new_copy_days`, each date moved by up to `jitter` of its interval. `run` (the `publisher
inspect` command) inspects every live copy now, whatever its date.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.base import ChannelError, CopyRef, Holding, Inspecting
from publisher.delivery import drift
from publisher.delivery.channelset import ChannelSet
from publisher.delivery.checkpoints import DbValues
from publisher.delivery.drift import DriftKind, Finding
from publisher.domain.clock import utcnow
from publisher.editorial.checks.fields import subject_of
from publisher.editorial.checks.links import Fetcher, Probe, probeable, site_of, targets
from publisher.settings import Settings
from publisher.store.db import Database, Flush
from publisher.store.models import Delivery, Item, ItemVersion, LiveCopy

log = logging.getLogger(__name__)

# a claimed copy is not handed out again for this long (a tick that dies leaves it due later)
CLAIM_SECONDS = 900.0


# results recorded per transaction (a drift is recorded at once, with what came before it)
WRITE_BATCH = 50


class Outcome:
    OK = "ok"
    DRIFT = "drift"
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Target:
    """A live copy with what the ledger says it should be."""

    copy_id: int
    delivery_id: int
    item_id: int
    uid: str
    item_type: str
    channel: str
    version: int
    validity: str | None
    external_id: str | None
    url: str | None
    delivered_at: datetime
    content: dict[str, Any]
    last_inspected_at: datetime | None
    links: bool = True  # this copy is the item's carrier of the body's links (`links_on`)


@dataclass(frozen=True)
class _Result:
    """What reading one copy found, until it is stored."""

    target: Target
    now: datetime
    outcome: str
    findings: list[Finding] = field(default_factory=list)
    checked: frozenset[DriftKind] = frozenset()


@dataclass
class ChannelSummary:
    channel: str
    inspected: int = 0
    ok: int = 0
    drifted: int = 0  # copies with at least one open difference now
    new_drifts: int = 0  # records opened by this run
    unchecked: int = 0  # copies the channel could not be asked about
    not_inspectable: bool = False
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "inspectable": not self.not_inspectable,
            "inspected": self.inspected,
            "ok": self.ok,
            "drifted": self.drifted,
            "new_drifts": self.new_drifts,
            "unchecked": self.unchecked,
            "errors": self.errors[:5],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    channels: list[ChannelSummary] = field(default_factory=list)

    @property
    def drifted(self) -> int:
        return sum(c.drifted for c in self.channels)

    @property
    def unchecked(self) -> int:
        return sum(c.unchecked for c in self.channels)

    @property
    def inspected(self) -> int:
        return sum(c.inspected for c in self.channels)


# (channel, copies done, copies in the run for that channel or None, outcome, uid)
Progress = Callable[[str, int, int | None, str, str], None]


def compare(target: Target, held: Holding | None, tolerance: float) -> list[Finding]:
    """What differs between the ledger's copy and what the channel holds (links aside)."""
    if held is None:
        return [
            Finding(
                DriftKind.MISSING, f"第 {target.version} 版在线 / version {target.version} live", "无 / none"
            )
        ]
    if not held.live:
        return [
            Finding(
                DriftKind.UNPUBLISHED,
                "公开 / public",
                held.status or "未公开 / not public",
            )
        ]
    if held.version is not None and held.version != target.version:
        return [
            Finding(
                DriftKind.STALE,
                f"第 {target.version} 版 / version {target.version}",
                f"第 {held.version} 版 / version {held.version}",
            )
        ]
    if held.validity is not None and target.validity is not None and held.validity != target.validity:
        return [Finding(DriftKind.STALE, f"有效性 {target.validity}", f"有效性 {held.validity} / validity")]
    if held.modified_at is not None and held.modified_at > target.delivered_at + timedelta(seconds=tolerance):
        return [
            Finding(
                DriftKind.STALE,
                f"投递时的内容（{target.delivered_at:%Y-%m-%d %H:%M:%S}Z）/ as delivered",
                f"投递后被修改（{held.modified_at:%Y-%m-%d %H:%M:%S}Z）/ edited after delivery",
            )
        ]
    return []


def outbound_links(target: Target, public_base_url: str, *, images: bool = True) -> list[str]:
    """The http(s) links and images of the version's body and attachments that leave our own
    site (our own pages are the channels' business, inspected as copies); `images` False:
    links only (the copy shows no image from its own address)."""
    own = urlsplit(public_base_url).netloc.lower()
    subject = subject_of(target.content, uid=target.uid, type=target.item_type)
    urls: list[str] = []
    for link, url in targets(subject, public_base_url):
        if link.image and not images:
            continue
        if probeable(url) and urlsplit(url).netloc.lower() != own and url not in urls:
            urls.append(url)
    return urls


def links_on(channels: set[str], ranks: dict[str, int | None]) -> str | None:
    """The channel whose copy of an item carries its link drifts, of the channels holding a
    live copy: the lowest `link_rank` (the website before the feeds before WeChat), None when
    no copy carries the body. A dead link is a fact of the version's body, so it is recorded
    once, on a copy that shows it, never on a notice or a metadata record without it."""
    ranked = [(rank, name) for name in channels if (rank := ranks.get(name)) is not None]
    return min(ranked)[1] if ranked else None


def link_findings(urls: list[str], probe: Callable[[str], Probe]) -> list[Finding]:
    out: list[Finding] = []
    for url in urls:
        p = probe(url)
        if p.dead:
            why = f"HTTP {p.status}" if p.status is not None else (p.error or "无法访问 / unreachable")
            out.append(Finding(DriftKind.LINK_DEAD, "可访问 / answers", why[:300], subject=url))
        elif p.final_url and site_of(p.final_url) != site_of(url):
            out.append(Finding(DriftKind.LINK_MOVED, site_of(url), p.final_url[:500], subject=url))
    return out


class Inspector:
    """Inspects live copies: `tick` on the executor's clock, `run` on demand."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: ChannelSet,
        fetcher: Fetcher | None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.settings = settings
        self.cfg = settings.inspection
        self.channels = channels
        self.fetcher = fetcher if self.cfg.links else None
        self.rng = rng or random.Random()
        self.sleep = sleep
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._next_tick = 0.0
        self._leases = DbValues(db, "inspection")
        self._owner = uuid.uuid4().hex
        self._ranks: dict[str, int | None] | None = None
        self.last_report: Report | None = None

    # -- the clock ---------------------------------------------------------------------------
    def on_sweep(self, now: datetime) -> None:
        """After each sweep: start a tick in the background when one is due and none runs (a
        sweep never waits for a channel's answers)."""
        if not self.cfg.enabled:
            return
        with self._lock:
            if time.monotonic() < self._next_tick or (self._running and self._running.is_alive()):
                return
            self._next_tick = time.monotonic() + self.cfg.tick_seconds
            # one round per tick across every process of the deployment (Celery workers run the
            # sweep in turn): whoever takes the round's lease in the store runs it, so a
            # channel's rate is the configured one however many workers there are
            try:
                if not self._leases.claim("round", self._owner, self.cfg.tick_seconds):
                    return
            except ChannelError as exc:
                log.warning("inspection: cannot take the round's lease: %s", exc.message)
                return
            t = threading.Thread(target=self._tick_logged, args=(now,), name="publisher-inspect", daemon=True)
            self._running = t
        t.start()

    def _tick_logged(self, now: datetime) -> None:
        try:
            self.last_report = self.tick(now)
        except Exception:  # the store may be briefly unavailable: the next tick tries again
            log.exception("inspection tick failed")

    def tick(self, now: datetime | None = None) -> Report:
        """One round: per enabled channel, the copies due now, up to its budget, paced."""
        now = now or utcnow()
        budget = max(1, int(self.cfg.rate_per_second * self.cfg.tick_seconds))
        names = self.settings.enabled_channels()
        report = Report()
        # one answer per link within a round, shared by the channels (the same body's links
        # would otherwise be asked once per channel)
        probes: dict[str, Probe] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="inspect") as pool:
            for summary in pool.map(lambda n: self._tick_channel(n, now, budget, probes), names):
                report.channels.append(summary)
        return report

    def _tick_channel(
        self, name: str, now: datetime, budget: int, probes: dict[str, Probe]
    ) -> ChannelSummary:
        summary = ChannelSummary(name)
        adapter = self._adapter(name, summary)
        if adapter is None:
            return summary
        ids = self.db.run(lambda s: self._claim_due(s, name, now, budget))
        self._inspect_ids(adapter, ids, summary, probes, pace=self.cfg.rate_per_second, now=now)
        return summary

    def _claim_due(self, s: Session, channel: str, now: datetime, budget: int) -> list[int]:
        """Copies of `channel` due at `now`: a new copy not yet inspected gets its first date
        (no channel call); up to `budget` others are claimed (pushed CLAIM_SECONDS ahead, so
        another clock leaves them alone) and returned."""
        rows = s.execute(
            select(LiveCopy.id, LiveCopy.delivered_at, LiveCopy.last_inspected_at, LiveCopy.next_inspect_at)
            .where(LiveCopy.channel == channel, LiveCopy.next_inspect_at <= now)
            .order_by(LiveCopy.next_inspect_at)
            .limit(budget + 2000)
            .with_for_update(skip_locked=True)
        ).all()
        first = timedelta(seconds=self.cfg.first_after_seconds)
        claimed: list[int] = []
        dated: list[dict[str, Any]] = []
        for r in rows:
            if r.last_inspected_at is None and now - r.delivered_at < first:
                later = r.delivered_at + self._jittered(self.cfg.first_after_seconds)
                dated.append({"id": r.id, "next_inspect_at": later})
            elif len(claimed) < budget:
                claimed.append(r.id)
        if dated:  # one executemany by primary key
            s.execute(update(LiveCopy), dated)
        if claimed:
            s.execute(
                update(LiveCopy)
                .where(LiveCopy.id.in_(claimed))
                .values(next_inspect_at=now + timedelta(seconds=CLAIM_SECONDS))
            )
        return claimed

    # -- on demand ---------------------------------------------------------------------------
    def run(
        self,
        names: list[str] | None = None,
        item_uid: str | None = None,
        *,
        progress: Progress | None = None,
        rate: float | None = None,
    ) -> Report:
        """Every live copy of the channels `names` (default: every enabled one), or of one
        item, now; `rate` paces each channel (copies per second; None or 0: as fast as the
        channel answers). Channels run side by side."""
        names = names or self.settings.enabled_channels()
        report = Report()
        probes: dict[str, Probe] = {}  # one answer per link within the run, for every channel

        def one(name: str) -> ChannelSummary:
            summary = ChannelSummary(name)
            adapter = self._adapter(name, summary)
            if adapter is None:
                return summary
            ids = self._all_ids(name, item_uid)
            self._inspect_ids(adapter, ids, summary, probes, pace=rate or 0.0, progress=progress)
            return summary

        with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="inspect") as pool:
            report.channels = list(pool.map(one, names))
        return report

    def _all_ids(self, channel: str, item_uid: str | None) -> list[int]:
        stmt = select(LiveCopy.id).where(LiveCopy.channel == channel)
        if item_uid is not None:
            stmt = stmt.join(Item, Item.id == LiveCopy.item_id).where(Item.uid == item_uid)
        with self.db.reader() as s:
            return list(s.execute(stmt.order_by(LiveCopy.id)).scalars())

    # -- one copy ----------------------------------------------------------------------------
    def _adapter(self, name: str, summary: ChannelSummary) -> Inspecting | None:
        try:
            adapter = self.channels.get(name)
        except Exception as exc:
            summary.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return None
        if not isinstance(adapter, Inspecting):
            summary.not_inspectable = True  # a push-only channel (webhook) keeps no copy to read
            return None
        return adapter

    def _link_ranks(self) -> dict[str, int | None]:
        """Each enabled channel's `link_rank` (None: its copies carry no body links)."""
        if self._ranks is None:
            ranks: dict[str, int | None] = {}
            for name in self.settings.enabled_channels():
                try:
                    adapter = self.channels.get(name)
                except Exception:  # reported by `_adapter` for its own channel
                    ranks[name] = None
                    continue
                ranks[name] = getattr(adapter, "link_rank", None) if isinstance(adapter, Inspecting) else None
            self._ranks = ranks
        return self._ranks

    def _targets(self, ids: list[int]) -> Iterator[Target]:
        ranks = self._link_ranks()
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            with self.db.reader() as s:
                rows = s.execute(
                    select(
                        LiveCopy.id,
                        LiveCopy.delivery_id,
                        LiveCopy.item_id,
                        Item.uid,
                        Item.type,
                        LiveCopy.channel,
                        ItemVersion.number,
                        ItemVersion.content,
                        Delivery.external_id,
                        Delivery.url,
                        LiveCopy.delivered_at,
                        LiveCopy.last_inspected_at,
                    )
                    .join(Delivery, Delivery.id == LiveCopy.delivery_id)
                    .join(Item, Item.id == LiveCopy.item_id)
                    .join(ItemVersion, ItemVersion.id == Delivery.version_id)
                    .where(LiveCopy.id.in_(chunk))
                    .order_by(LiveCopy.id)
                ).all()
                held: dict[int, set[str]] = {}
                item_ids = {r.item_id for r in rows}
                for item_id, channel in s.execute(
                    select(LiveCopy.item_id, LiveCopy.channel).where(LiveCopy.item_id.in_(item_ids))
                ):
                    held.setdefault(item_id, set()).add(channel)
            for r in rows:
                content = dict(r.content or {})
                yield Target(
                    copy_id=r.id,
                    delivery_id=r.delivery_id,
                    item_id=r.item_id,
                    uid=r.uid,
                    item_type=r.type,
                    channel=r.channel,
                    version=r.number,
                    validity=content.get("validity"),
                    external_id=r.external_id,
                    url=r.url,
                    delivered_at=r.delivered_at,
                    content=content,
                    last_inspected_at=r.last_inspected_at,
                    links=links_on(held.get(r.item_id, {r.channel}), ranks) == r.channel,
                )

    def _inspect_ids(
        self,
        adapter: Inspecting,
        ids: list[int],
        summary: ChannelSummary,
        probes: dict[str, Probe],
        *,
        pace: float,
        progress: Progress | None = None,
        now: datetime | None = None,
    ) -> None:
        started = time.monotonic()
        batch: list[_Result] = []
        for n, target in enumerate(self._targets(ids), start=1):
            if pace > 0:
                wait = started + (n - 1) / pace - time.monotonic()
                if wait > 0:
                    self.sleep(wait)
            result = self.inspect_one(adapter, target, summary, probes, now=now)
            batch.append(result)
            if len(batch) >= WRITE_BATCH or result.findings:
                self._store(batch, summary)
            if progress is not None:
                progress(summary.channel, n, len(ids), result.outcome, target.uid)
        self._store(batch, summary)
        summary.seconds = time.monotonic() - started

    def _store(self, batch: list[_Result], summary: ChannelSummary) -> None:
        """Record a batch of results in one transaction. Without a drift in it the commit
        does not wait for the WAL flush: losing a schedule update in a crash only makes those
        copies due again."""
        if not batch:
            return
        drifted = any(r.findings for r in batch)

        def store(s: Session) -> int:
            new = 0
            for r in batch:
                if r.outcome != Outcome.UNCHECKED:
                    copy = drift.Copy(r.target.delivery_id, r.target.item_id, r.target.uid, r.target.channel)
                    new += len(drift.record(s, copy, r.findings, r.checked, r.now))
                self._schedule(s, r.target, r.now, r.outcome)
            return new

        summary.new_drifts += self.db.run(store, flush=Flush.WAIT if drifted else Flush.LATER)
        batch.clear()

    def inspect_one(
        self,
        adapter: Inspecting,
        target: Target,
        summary: ChannelSummary,
        probes: dict[str, Probe],
        *,
        now: datetime | None = None,
    ) -> _Result:
        """Read one copy and compare it (nothing is stored here: see `_store`). `now`: the
        clock's time (the tick's), else the wall clock."""
        now = now or utcnow()
        ref = CopyRef(
            uid=target.uid,
            version=target.version,
            external_id=target.external_id,
            url=target.url,
            item_type=target.item_type,
        )
        summary.inspected += 1
        try:
            held = adapter.inspect(ref)
        except ChannelError as exc:
            summary.unchecked += 1
            summary.errors.append(exc.message[:300])
            return _Result(target, now, Outcome.UNCHECKED)
        except Exception as exc:  # an answer the adapter could not make sense of is no answer
            log.exception("inspection of %s on %s failed", target.uid, target.channel)
            summary.unchecked += 1
            summary.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return _Result(target, now, Outcome.UNCHECKED)
        findings = compare(target, held, self.cfg.modified_tolerance_seconds)
        checked = set(drift.COPY_KINDS)
        carrier = held is not None and held.body and target.links
        if not findings and self.fetcher is not None and not carrier:
            # not the item's carrier of its links, or a copy without the body (a notice): the
            # links are not this copy's to report, and any it still has open are cleared
            checked |= drift.LINK_KINDS
        elif not findings and self.fetcher is not None:
            fetcher = self.fetcher

            def probe(url: str) -> Probe:
                if url not in probes:
                    probes[url] = fetcher.probe(url)
                return probes[url]

            images = bool(getattr(adapter, "link_images", True))
            findings += link_findings(
                outbound_links(target, self.settings.public_base_url, images=images), probe
            )
            checked |= drift.LINK_KINDS
        if findings:
            summary.drifted += 1
        else:
            summary.ok += 1
        return _Result(target, now, Outcome.DRIFT if findings else Outcome.OK, findings, frozenset(checked))

    def _schedule(self, s: Session, target: Target, now: datetime, outcome: str) -> None:
        if outcome == Outcome.UNCHECKED:
            after = timedelta(seconds=self.cfg.unchecked_retry_seconds)
        else:
            young = now - target.delivered_at < timedelta(days=self.cfg.new_copy_days)
            after = self._jittered(self.cfg.new_copy_interval_seconds if young else self.cfg.interval_seconds)
        values: dict[str, Any] = {"next_inspect_at": now + after, "last_outcome": outcome}
        if outcome != Outcome.UNCHECKED:
            values.update(last_inspected_at=now, inspections=LiveCopy.inspections + 1)
        # the copy may have been replaced meanwhile (a newer version delivered): leave that row
        s.execute(
            update(LiveCopy)
            .where(LiveCopy.id == target.copy_id, LiveCopy.delivery_id == target.delivery_id)
            .values(**values)
        )

    def _jittered(self, seconds: float) -> timedelta:
        j = self.cfg.jitter
        return timedelta(seconds=seconds * (1 + self.rng.uniform(-j, j)))
