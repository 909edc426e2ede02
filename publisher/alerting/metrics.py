"""Alert metrics for `/metrics`, read from the store on scrape (like the delivery metrics:
every process writes the store, so any web process sees the whole fleet). The messages per
status and the tries come from the maintained counts (migration 0025), never from the alert
history; the rest reads a bounded set: the unsent messages (ix_alert_notifications_due) and
the groups, one per kind and channel.

    publisher_alert_notifications{status}                  gauge    messages by pending|sending|sent|failed
    publisher_alert_send_attempts_total{target,outcome}    counter  tries by target type (webhook|email), ok|error
    publisher_alert_oldest_unsent_age_seconds              gauge    age of the oldest message not yet sent
    publisher_alerts_firing{kind,channel}                  gauge    1 per firing group
    publisher_alert_clock_tick_timestamp_seconds           gauge    the last stamped tick (at least every 15 s
                                                                    while sweeps run): the executor clock's
                                                                    heartbeat, embedded or Celery
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from publisher.domain.clock import utcnow
from publisher.store import counters
from publisher.store.db import Database
from publisher.store.models import AlertClock, AlertGroup, AlertNotification

STATUSES = ("pending", "sending", "sent", "failed")


class AlertCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.db.reader() as s:
            kept = counters.read(s, counters.ALERT_NOTE, counters.ALERT_TRY)
            oldest = s.execute(
                select(func.min(AlertNotification.created_at)).where(
                    AlertNotification.status.in_(("pending", "sending"))
                )
            ).scalar_one_or_none()
            firing = s.execute(
                select(AlertGroup.kind, AlertGroup.channel).where(AlertGroup.status == "firing")
            ).all()
            ticked = s.execute(select(AlertClock.ticked_at).where(AlertClock.id == 1)).scalar_one_or_none()
        by_status = kept.alert_notes
        tries = [(target, ok == "ok", n) for (target, ok), n in kept.alert_tries.items() if n]
        notes = GaugeMetricFamily(
            "publisher_alert_notifications", "Alert messages by status.", labels=["status"]
        )
        for status in STATUSES:
            notes.add_metric([status], int(by_status.get(status, 0)))
        yield notes
        attempts = CounterMetricFamily(
            "publisher_alert_send_attempts", "Tries to send an alert message.", labels=["target", "outcome"]
        )
        for target, ok, n in sorted(tries, key=lambda r: (str(r[0]), bool(r[1]))):
            attempts.add_metric([str(target), "ok" if ok else "error"], int(n))
        yield attempts
        yield GaugeMetricFamily(
            "publisher_alert_oldest_unsent_age_seconds",
            "Age of the oldest alert message not yet sent (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        groups = GaugeMetricFamily(
            "publisher_alerts_firing", "Firing alert groups (kind, channel).", labels=["kind", "channel"]
        )
        for kind, channel in sorted(firing):
            groups.add_metric([kind, channel], 1)
        yield groups
        if ticked is not None:
            yield GaugeMetricFamily(
                "publisher_alert_clock_tick_timestamp_seconds",
                "When the alert clock last stamped its row (at least every 15 s while the executor's clock runs).",
                value=ticked.timestamp(),
            )
