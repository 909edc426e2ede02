"""Delivery metrics read from the store: the Prometheus collector behind `/metrics` and the
channel health figures the ops dashboard shows.

The store is the source of truth and every worker (embedded or Celery, on any machine)
writes its attempts there, so one scrape of any web process sees the whole fleet. Nothing
is counted in process memory, and nothing is counted at scrape time either: the counts are
kept by the store's triggers (`publisher.store.counters`), so a scrape costs the number of
channels and states, not the size of the ledger.

Families (see docs/operations.md):

    publisher_deliveries_total{channel,outcome}        counter   attempts by outcome
    publisher_delivery_latency_seconds{channel}        histogram attempt duration
    publisher_deliveries{channel,state}                gauge     deliveries by ledger state
    publisher_outbox_oldest_age_seconds{channel}       gauge     age of the oldest unsent delivery
    publisher_oldest_due_age_seconds{channel}          gauge     how long the oldest due delivery has waited
    publisher_breaker_open{channel}                    gauge     1 while the breaker is open or half-open
    publisher_channel_paused{channel}                  gauge     1 while paused
    publisher_items{type,state}                        gauge     items by workflow state
    publisher_drifts_open{channel,kind}                gauge     live copies drifted, not yet resolved
    publisher_inspection_behind_seconds{channel}       gauge     how long the most overdue copy has waited
    publisher_alert_*, publisher_alerts_firing          the alert outbox (publisher/alerting/metrics.py)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import CompoundSelect, Select, String, bindparam, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from publisher.alerting.metrics import AlertCollector
from publisher.domain.clock import utcnow
from publisher.domain.item import DeliveryState
from publisher.settings import Settings
from publisher.store import counters
from publisher.store import recent as recent_attempts
from publisher.store.db import Database
from publisher.store.models import ChannelState, Delivery, Drift, LiveCopy, RecentAttempt

# publisher.delivery.drift.DriftKind's values (observe does not import the delivery package)
DRIFT_KINDS = ("missing", "unpublished", "stale", "link_dead", "link_moved")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Not yet handed to the channel: what an outbox age means.
OUTBOX_STATES = (
    DeliveryState.QUEUED.value,
    DeliveryState.RETRY_WAIT.value,
    DeliveryState.HELD.value,
    DeliveryState.SENDING.value,
)
# Waiting for a send whose time has come (next_attempt_at <= now).
DUE_STATES = (DeliveryState.QUEUED.value, DeliveryState.RETRY_WAIT.value)
SUCCESS_OUTCOMES = ("success", "accepted")
HEALTH_SAMPLE = 500  # attempts per channel
# the most recent attempts over all channels, from which each channel's sample comes (no more
# than the store keeps copies of)
HEALTH_WINDOW = recent_attempts.KEPT


class StoreCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        counts = counters.snapshot(self.db)
        with self.db.reader() as s:
            channels = set(self.settings.enabled_channels()) | {c for c, _ in counts.deliveries}
            oldest = oldest_pending(s, channels)
            # how long the longest-waiting due delivery has been due: a stalled executor shows here
            due_since = oldest_due(s, channels, now)
            channel_rows = s.execute(
                select(ChannelState.channel, ChannelState.breaker, ChannelState.paused)
            ).all()

        total = CounterMetricFamily(
            "publisher_deliveries",
            "Delivery attempts by outcome (success, accepted, "
            "transient, rate_limited, permanent, config, lost, error).",
            labels=["channel", "outcome"],
        )
        # acc[i] for i < len(LATENCY_BUCKETS): attempts in bucket i alone (made cumulative below);
        # acc[-2] every attempt; acc[-1] the summed seconds
        latency: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(LATENCY_BUCKETS) + 2))
        for (channel, outcome), buckets in sorted(counts.attempts.items()):
            count = sum(n for n, _ in buckets.values())
            total.add_metric([channel, outcome], count)
            acc = latency[channel]
            for bucket, (n, summed) in buckets.items():
                if bucket < len(LATENCY_BUCKETS):
                    acc[bucket] += n
                acc[-1] += summed / 1000.0
            acc[-2] += count
        yield total

        hist = HistogramMetricFamily(
            "publisher_delivery_latency_seconds",
            "Duration of delivery attempts (one send to the channel).",
            labels=["channel"],
        )
        for channel, acc in sorted(latency.items()):
            running = 0.0
            series: list[tuple[str, float]] = []
            for i, b in enumerate(LATENCY_BUCKETS):
                running += acc[i]
                series.append((_le(b), running))
            series.append(("+Inf", acc[-2]))
            hist.add_metric([channel], series, sum_value=acc[-1])
        yield hist

        gauge = GaugeMetricFamily(
            "publisher_deliveries", "Deliveries by ledger state.", labels=["channel", "state"]
        )
        for (channel, state), count in sorted(counts.deliveries.items()):
            gauge.add_metric([channel, state], count)
        yield gauge

        age = GaugeMetricFamily(
            "publisher_outbox_oldest_age_seconds",
            "Age of the oldest delivery not yet handed to the channel (0 when none).",
            labels=["channel"],
        )
        for channel in sorted(channels):
            created = oldest.get(channel)
            age.add_metric([channel], max(0.0, (now - created).total_seconds()) if created else 0.0)
        yield age

        due = GaugeMetricFamily(
            "publisher_oldest_due_age_seconds",
            "How long the oldest due delivery (queued or retry_wait, its time come) has waited (0 when none).",
            labels=["channel"],
        )
        for channel in sorted(channels | set(due_since)):
            since = due_since.get(channel)
            due.add_metric([channel], max(0.0, (now - since).total_seconds()) if since else 0.0)
        yield due

        breaker = GaugeMetricFamily(
            "publisher_breaker_open",
            "1 while the channel's circuit breaker is open or half-open.",
            labels=["channel"],
        )
        paused = GaugeMetricFamily(
            "publisher_channel_paused", "1 while the channel is paused.", labels=["channel"]
        )
        known = {c: (b, p) for c, b, p in channel_rows}
        for channel in sorted(channels | set(known)):
            b, p = known.get(channel, ("closed", False))
            breaker.add_metric([channel], 0.0 if b == "closed" else 1.0)
            paused.add_metric([channel], 1.0 if p else 0.0)
        yield breaker
        yield paused

        item_gauge = GaugeMetricFamily(
            "publisher_items", "Items by type and workflow state.", labels=["type", "state"]
        )
        for (item_type, state), count in sorted(counts.items.items()):
            item_gauge.add_metric([item_type, state], count)
        yield item_gauge
        yield from inspection_metrics(self.db, sorted(channels), now)


def inspection_metrics(db: Database, channels: list[str], now: datetime) -> Iterator[Metric]:
    """Open drift records (the open rows of ix_drifts_open only) and, per channel, how far the
    inspection clock is behind (one index probe of ix_live_copies_due per channel, all in one
    statement)."""
    with db.reader() as s:
        open_rows = s.execute(
            select(Drift.channel, Drift.kind, func.count())
            .where(Drift.resolved_at.is_(None))
            .group_by(Drift.channel, Drift.kind)
        ).all()
        # one statement of one index probe per channel, not a round trip per channel
        earliest: dict[str, datetime | None] = {}
        if channels:
            probes = [
                select(func.min(LiveCopy.next_inspect_at))
                .where(LiveCopy.channel == c)
                .scalar_subquery()
                .label(f"c{i}")
                for i, c in enumerate(channels)
            ]
            earliest = dict(zip(channels, s.execute(select(*probes)).one(), strict=True))
    drifts = GaugeMetricFamily(
        "publisher_drifts_open",
        "Live copies found different from the ledger and not yet cleared, re-pushed or accepted.",
        labels=["channel", "kind"],
    )
    found = {(c, k): int(n) for c, k, n in open_rows}
    for channel in sorted(set(channels) | {c for c, _ in found}):
        for kind in DRIFT_KINDS:
            drifts.add_metric([channel, kind], float(found.get((channel, kind), 0)))
    yield drifts
    behind = GaugeMetricFamily(
        "publisher_inspection_behind_seconds",
        "How long the channel's most overdue live copy has been due for inspection (0 when none).",
        labels=["channel"],
    )
    for channel in channels:
        due = earliest.get(channel)
        behind.add_metric([channel], max(0.0, (now - due).total_seconds()) if due else 0.0)
    yield behind


def oldest_pending(s: Session, channels: Iterable[str]) -> dict[str, datetime]:
    """Creation time of each channel's oldest delivery not yet handed over. One statement of
    one index probe per (channel, state) — the first entry of the outbox index under that
    prefix — so the cost follows the number of channels, not the ledger or the backlog (a
    GROUP BY, or a min over `state IN (...)`, reads every pending row)."""
    names = tuple(sorted(channels))
    if not names:
        return {}
    return _earliest(s.execute(_earliest_statement(names, "created_at", OUTBOX_STATES, False)).one(), names)


def oldest_due(s: Session, channels: Iterable[str], now: datetime) -> dict[str, datetime]:
    """Each channel's earliest due time among its due deliveries: one probe of the partial due
    index per (channel, state), in one statement, so the cost follows the channels, not the
    backlog (a GROUP BY would read every due row)."""
    names = tuple(sorted(channels))
    if not names:
        return {}
    stmt = _earliest_statement(names, "next_attempt_at", DUE_STATES, True)
    return _earliest(s.execute(stmt, {"now": now}).one(), names)


@lru_cache(maxsize=64)
def _earliest_statement(
    names: tuple[str, ...], column: str, states: tuple[str, ...], due: bool
) -> Select[Any]:
    """min(column) per channel over the given states (and, with `due`, next_attempt_at <= the
    parameter `now`), as one scalar subquery per (channel, state) in a single SELECT: each is
    one probe of a partial index. Built once per set of channels: building and keying twenty
    subqueries cost more Python than the probes cost the database."""
    attr = getattr(Delivery, column)
    also = [Delivery.next_attempt_at <= bindparam("now")] if due else []
    probes = [
        select(func.min(attr))
        # the state inline, not a parameter: a prepared statement's generic plan cannot
        # prove a parameter inside the partial index's predicate and would pass it by
        .where(
            Delivery.channel == channel,
            Delivery.state == bindparam(None, state, literal_execute=True),
            *also,
        )
        .scalar_subquery()
        .label(f"p{i}_{j}")
        for i, channel in enumerate(names)
        for j, state in enumerate(states)
    ]
    return select(*probes)


def _earliest(row: Any, names: tuple[str, ...]) -> dict[str, datetime]:
    """The earliest of each channel's per-state minima in `row` (channel-major, as built)."""
    out = {}
    width = len(row) // len(names)
    for i, channel in enumerate(names):
        found = [t for t in row[i * width : (i + 1) * width] if t is not None]
        if found:
            out[channel] = min(found)
    return out


def _le(bound: float) -> str:
    return repr(float(bound))


def registry_for(db: Database, settings: Settings) -> CollectorRegistry:
    """A registry of our own (never the global one): one per app, reading `db` on scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db, settings))
    registry.register(AlertCollector(db))
    return registry


# -- the dashboard's channel health -----------------------------------------------------------
@dataclass
class ChannelHealth:
    channel: str
    enabled: bool
    paused: bool = False
    pause_reason: str | None = None
    breaker: str = "closed"
    sampled: int = 0
    success_ratio: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    queue_depth: int = 0
    oldest_pending_seconds: float | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _positions(n: int, q: int) -> tuple[int, int]:
    """The two sorted positions statistics.quantiles(n=100, method="inclusive") interpolates
    between for its q-th cut point over n values, and the weight of the upper one."""
    j, delta = divmod(q * (n - 1), 100)
    return j, delta


def _quantile(picked: dict[int, float], n: int, q: int) -> float:
    """The q-th percentile from the values at the positions `_positions` names: the same
    arithmetic as statistics.quantiles(n=100, method="inclusive") over the whole sorted sample (so the page shows the same
    figures), with only those values fetched."""
    if n == 1:
        return picked[0]
    j, delta = _positions(n, q)
    return (picked[j] * (100 - delta) + picked[j + 1] * delta) / 100


def _samples(s: Session, sample: int, channels: list[str]) -> dict[str, tuple[int, int, dict[int, float]]]:
    """Per channel, over its last `sample` attempts among the store's newest HEALTH_WINDOW:
    (attempts sampled, successful ones, {sorted position: duration} at the positions the p50
    and p95 interpolate between). One statement, from the copies of the newest attempts that
    the attempts' triggers keep with their channel (publisher.store.recent): the window's lower
    bound found once by the key, then per channel its newest `sample` by (channel, attempt_id),
    ranked by duration in the database, so a page reads a few rows per channel — no join to
    the ledger (it was 5,000 index probes a page) and no sort of the window by channel name."""
    if not channels:
        return {}
    out: dict[str, tuple[int, int, dict[int, float]]] = {}
    for channel, duration, pos, n, ok in s.execute(
        _samples_statement(tuple(channels), sample, HEALTH_WINDOW)
    ):
        entry = out.setdefault(channel, (int(n), int(ok), {}))
        entry[2][int(pos)] = float(duration)
    return out


@lru_cache(maxsize=64)
def _samples_statement(channels: tuple[str, ...], sample: int, window_size: int) -> CompoundSelect[Any]:
    """`_samples`' statement, built once per set of channels (building and keying it cost more
    Python than the database spends on it)."""
    oldest = (
        select(RecentAttempt.attempt_id)
        .order_by(RecentAttempt.attempt_id.desc())
        .offset(window_size - 1)
        .limit(1)
        .scalar_subquery()
    )
    window = select(func.coalesce(oldest, 0).label("since")).cte("health_window")
    branches = []
    for channel in channels:
        newest = (
            select(RecentAttempt.duration_ms.label("duration"), RecentAttempt.outcome.label("outcome"))
            .join(window, RecentAttempt.attempt_id >= window.c.since)
            .where(RecentAttempt.channel == channel)
            .order_by(RecentAttempt.attempt_id.desc())
            .limit(sample)
            .subquery()
        )
        ranked = select(
            newest.c.duration,
            (func.row_number().over(order_by=newest.c.duration) - 1).label("pos"),
            func.count().over().label("n"),
            func.sum(case((newest.c.outcome.in_(SUCCESS_OUTCOMES), 1), else_=0)).over().label("oks"),
        ).subquery()
        # the positions p50 and p95 interpolate between (see _positions), in integer arithmetic
        wanted = [ranked.c.pos == (q * (ranked.c.n - 1)) // 100 + k for q in (50, 95) for k in (0, 1)]
        branches.append(
            select(
                literal(channel, String).label("channel"),
                ranked.c.duration,
                ranked.c.pos,
                ranked.c.n,
                ranked.c.oks,
            ).where(or_(*wanted))
        )
    return union_all(*branches)


def channel_health(
    db: Database,
    settings: Settings,
    channels: Iterable[str],
    sample: int = HEALTH_SAMPLE,
    counts: counters.Counts | None = None,
) -> list[ChannelHealth]:
    """Per channel: success ratio and p50/p95 latency over its last `sample` attempts among
    the store's most recent HEALTH_WINDOW (one index-ordered read, not one scan per channel),
    breaker and pause state, queue depth and the age of the oldest unsent delivery."""
    now = utcnow()
    out = []
    enabled = set(settings.enabled_channels())
    by_channel = (counts or counters.snapshot(db)).by_channel()
    with db.reader() as s:
        states = {st.channel: st for st in s.execute(select(ChannelState)).scalars()}
        names = list(channels)
        summaries = _samples(s, sample, names)
        # one statement of index probes for every channel with a queue, not one per channel
        waiting = [n for n in names if any(by_channel.get(n, {}).get(x, 0) for x in OUTBOX_STATES)]
        oldest = oldest_pending(s, waiting)
        for name in names:
            h = ChannelHealth(channel=name, enabled=name in enabled, counts=by_channel.get(name, {}))
            st = states.get(name)
            if st is not None:
                h.paused, h.pause_reason, h.breaker = st.paused, st.pause_reason, st.breaker
            summary = summaries.get(name)
            if summary is not None:
                h.sampled, ok, picked = summary
                h.success_ratio = ok / h.sampled
                h.p50_ms, h.p95_ms = _quantile(picked, h.sampled, 50), _quantile(picked, h.sampled, 95)
            h.queue_depth = sum(h.counts.get(x, 0) for x in OUTBOX_STATES)
            if h.queue_depth:
                created = oldest.get(name)
                h.oldest_pending_seconds = (now - created).total_seconds() if created else None
            out.append(h)
    return out
