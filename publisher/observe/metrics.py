"""Delivery metrics read from the store: the Prometheus collector behind `/metrics` and the
channel health figures the ops dashboard shows.

The store is the source of truth and every worker (embedded or Celery, on any machine)
writes its attempts there, so one scrape of any web process sees the whole fleet. Nothing
is counted in process memory; each scrape runs a handful of grouped queries.

Families (see docs/operations.md):

    publisher_deliveries_total{channel,outcome}        counter   attempts by outcome
    publisher_delivery_latency_seconds{channel}        histogram attempt duration
    publisher_deliveries{channel,state}                gauge     deliveries by ledger state
    publisher_outbox_oldest_age_seconds{channel}       gauge     age of the oldest unsent delivery
    publisher_breaker_open{channel}                    gauge     1 while the breaker is open or half-open
    publisher_channel_paused{channel}                  gauge     1 while paused
    publisher_items{type,state}                        gauge     items by workflow state
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from publisher.domain.clock import utcnow
from publisher.domain.item import DeliveryState
from publisher.settings import Settings
from publisher.store.db import Database
from publisher.store.models import Attempt, ChannelState, Delivery, Item

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Not yet handed to the channel: what an outbox age means.
OUTBOX_STATES = (
    DeliveryState.QUEUED.value,
    DeliveryState.RETRY_WAIT.value,
    DeliveryState.HELD.value,
    DeliveryState.SENDING.value,
)
SUCCESS_OUTCOMES = ("success", "accepted")
HEALTH_SAMPLE = 500  # attempts per channel
HEALTH_WINDOW = 5000  # the most recent attempts over all channels, from which each channel's sample comes


class StoreCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        bucket_cols = [
            func.sum(case((Attempt.duration_ms <= b * 1000.0, 1), else_=0)) for b in LATENCY_BUCKETS
        ]
        with self.db.reader() as s:
            attempts = s.execute(
                select(
                    Delivery.channel,
                    Attempt.outcome,
                    func.count(),
                    func.sum(Attempt.duration_ms),
                    *bucket_cols,
                )
                .join(Delivery, Delivery.id == Attempt.delivery_id)
                .group_by(Delivery.channel, Attempt.outcome)
            ).all()
            states = s.execute(
                select(Delivery.channel, Delivery.state, func.count()).group_by(
                    Delivery.channel, Delivery.state
                )
            ).all()
            oldest = s.execute(
                select(Delivery.channel, func.min(Delivery.created_at))
                .where(Delivery.state.in_(OUTBOX_STATES))
                .group_by(Delivery.channel)
            ).all()
            channel_rows = s.execute(
                select(ChannelState.channel, ChannelState.breaker, ChannelState.paused)
            ).all()
            items = s.execute(
                select(Item.type, Item.state, func.count()).group_by(Item.type, Item.state)
            ).all()

        channels = set(self.settings.enabled_channels()) | {r[0] for r in states}

        total = CounterMetricFamily(
            "publisher_deliveries",
            "Delivery attempts by outcome (success, accepted, "
            "transient, rate_limited, permanent, config, lost, error).",
            labels=["channel", "outcome"],
        )
        latency: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(LATENCY_BUCKETS) + 2))
        for row in attempts:
            channel, outcome, count, summed = row[0], row[1], int(row[2]), float(row[3] or 0.0)
            total.add_metric([channel, outcome], count)
            acc = latency[channel]
            for i, n in enumerate(row[4:]):
                acc[i] += int(n or 0)
            acc[-2] += count
            acc[-1] += summed / 1000.0
        yield total

        hist = HistogramMetricFamily(
            "publisher_delivery_latency_seconds",
            "Duration of delivery attempts (one send to the channel).",
            labels=["channel"],
        )
        for channel, acc in sorted(latency.items()):
            buckets = [(_le(b), acc[i]) for i, b in enumerate(LATENCY_BUCKETS)] + [("+Inf", acc[-2])]
            hist.add_metric([channel], buckets, sum_value=acc[-1])
        yield hist

        gauge = GaugeMetricFamily(
            "publisher_deliveries", "Deliveries by ledger state.", labels=["channel", "state"]
        )
        for channel, state, count in sorted(states):
            gauge.add_metric([channel, state], int(count))
        yield gauge

        age = GaugeMetricFamily(
            "publisher_outbox_oldest_age_seconds",
            "Age of the oldest delivery not yet handed to the channel (0 when none).",
            labels=["channel"],
        )
        by_channel: dict[str, datetime] = {c: t for c, t in oldest}
        for channel in sorted(channels):
            created = by_channel.get(channel)
            age.add_metric([channel], max(0.0, (now - created).total_seconds()) if created else 0.0)
        yield age

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
        for item_type, state, count in sorted(items):
            item_gauge.add_metric([item_type, state], int(count))
        yield item_gauge


def _le(bound: float) -> str:
    return repr(float(bound))


def registry_for(db: Database, settings: Settings) -> CollectorRegistry:
    """A registry of our own (never the global one): one per app, reading `db` on scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db, settings))
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


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(q * 100) - 1]


def channel_health(
    db: Database, settings: Settings, channels: Iterable[str], sample: int = HEALTH_SAMPLE
) -> list[ChannelHealth]:
    """Per channel: success ratio and p50/p95 latency over its last `sample` attempts among
    the store's most recent HEALTH_WINDOW (one index-ordered read, not one scan per channel),
    breaker and pause state, queue depth and the age of the oldest unsent delivery."""
    now = utcnow()
    out = []
    enabled = set(settings.enabled_channels())
    with db.reader() as s:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for channel, state, n in s.execute(
            select(Delivery.channel, Delivery.state, func.count()).group_by(Delivery.channel, Delivery.state)
        ):
            counts[channel][state] = int(n)
        states = {st.channel: st for st in s.execute(select(ChannelState)).scalars()}
        recent_by: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for channel, outcome, duration in s.execute(
            select(Delivery.channel, Attempt.outcome, Attempt.duration_ms)
            .join(Delivery, Delivery.id == Attempt.delivery_id)
            .order_by(Attempt.id.desc())
            .limit(HEALTH_WINDOW)
        ):
            if len(recent_by[channel]) < sample:
                recent_by[channel].append((outcome, float(duration)))
        for name in channels:
            h = ChannelHealth(channel=name, enabled=name in enabled, counts=counts.get(name, {}))
            st = states.get(name)
            if st is not None:
                h.paused, h.pause_reason, h.breaker = st.paused, st.pause_reason, st.breaker
            recent = recent_by.get(name, [])
            if recent:
                h.sampled = len(recent)
                h.success_ratio = sum(1 for o, _ in recent if o in SUCCESS_OUTCOMES) / len(recent)
                durations = sorted(float(d) for _, d in recent)
                h.p50_ms, h.p95_ms = _percentile(durations, 0.50), _percentile(durations, 0.95)
            h.queue_depth = sum(h.counts.get(x, 0) for x in OUTBOX_STATES)
            if h.queue_depth:
                created = s.execute(
                    select(func.min(Delivery.created_at)).where(
                        Delivery.channel == name, Delivery.state.in_(OUTBOX_STATES)
                    )
                ).scalar_one_or_none()
                h.oldest_pending_seconds = (now - created).total_seconds() if created else None
            out.append(h)
    return out
