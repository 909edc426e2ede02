"""The alert clock: fold recorded alert events into groups, decide what to tell, write the
notifications, send the due ones with retries. Runs after each sweep of the executor's clock
(the embedded sweeper, or Celery beat's `publisher.sweep`), and on `publisher alerts send`.
After a sweep it ticks only when something can be due (`on_sweep`): every
`[alerts] tick_interval_seconds` (capped at group_wait), or at once when this process wrote an
alert since the last tick; the embedded sweeper runs every 0.05-2 s and an idle tick's reads
were ~40% of a sweep's CPU.

Deciding happens in one transaction that first updates the `alert_clock` row, so two
processes ticking at once take turns. Sending happens outside any transaction: a notification
is leased (status `sending`), sent, and its attempt recorded; a lease that expires (the process
died mid-send) makes it due again, so delivery is at least once and the webhook-id stays the
notification's, for receivers to de-duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from publisher.alerting import record as recorder
from publisher.alerting import render
from publisher.alerting.kinds import KINDS
from publisher.delivery.policy import RetryPolicy
from publisher.domain.clock import utcnow
from publisher.settings import Settings, SettingsError
from publisher.store.db import Database
from publisher.store.models import (
    AlertAttempt,
    AlertClock,
    AlertEvent,
    AlertGroup,
    AlertNotification,
    AlertSilence,
    ChannelState,
    Delivery,
    Item,
)

log = logging.getLogger(__name__)

FOLD_BATCH = 5000
SAMPLES = 20  # newest events' data kept per group
SEND_LEASE = timedelta(seconds=120)
STAMP_EVERY = timedelta(seconds=15)


def _rows(result: Any) -> int:
    """Rows an UPDATE changed (CursorResult.rowcount; the typed Result hides it)."""
    return int(result.rowcount)


class Sender(Protocol):
    """Sends one rendered notification to one target; raises on failure (channels/alerttargets.py)."""

    def targets(self) -> list[str]: ...
    def send(self, target: str, message_id: str, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Timing:
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


@dataclass
class TickReport:
    folded: int = 0
    notified: int = 0  # notifications written
    sent: int = 0
    failed: int = 0  # attempts that failed
    resolved: int = 0
    details: list[str] = field(default_factory=list)


def sender_from_settings(settings: Settings) -> Sender:
    """The targets of `[alerts]`, through the registry (the core names no adapter module)."""
    from channels import registry

    a = settings.alerts
    mail = a.email
    config: dict[str, Any] = {
        "webhooks": list(a.webhooks),
        "webhook_secrets": a.webhook_secret.get_secret_value().split() if a.webhook_secret else [],
        "timeout_seconds": a.timeout_seconds,
        "email": None
        if not mail.smtp_host
        else {
            "smtp_host": mail.smtp_host,
            "smtp_port": mail.smtp_port,
            "starttls": mail.starttls,
            "username": mail.username,
            "password": mail.password.get_secret_value() if mail.password else None,
            "sender": mail.sender,
            "to": list(mail.to),
        },
    }
    sender: Sender = registry.alert_sender(config)
    return sender


class AlertClockRunner:
    def __init__(self, db: Database, settings: Settings, sender: Sender | None = None) -> None:
        a = settings.alerts
        unknown = set(a.events or ()) - set(KINDS)
        if unknown:
            raise SettingsError(f"alerts.events: unknown kind {sorted(unknown)[0]!r}; known: {sorted(KINDS)}")
        self.db = db
        self.settings = settings
        self.kinds = frozenset(a.events) if a.events else frozenset(KINDS)
        self.timing = Timing(
            timedelta(seconds=a.group_wait_seconds),
            timedelta(seconds=a.group_interval_seconds),
            timedelta(seconds=a.repeat_interval_seconds),
        )
        self.retry = RetryPolicy(
            max_attempts=a.retry.max_attempts,
            base_seconds=a.retry.base_seconds,
            cap_seconds=a.retry.cap_seconds,
            jitter=a.retry.jitter,
        )
        self.sender = sender if sender is not None else sender_from_settings(settings)
        self.dashboard = (a.dashboard_url or settings.public_base_url or "").rstrip("/")
        # a sweep's tick waits at most this long (never longer than group_wait or
        # group_interval, so short ones keep their precision); monotonic, so a wall-clock
        # step changes nothing
        self.tick_every = min(a.tick_interval_seconds, a.group_wait_seconds, a.group_interval_seconds)
        self._next_tick = 0.0  # monotonic; 0: the first sweep ticks
        self._seen_writes = -1
        self._gate = threading.Lock()

    # -- the sweep's gate ----------------------------------------------------------------------
    def on_sweep(self, now: datetime | None = None) -> TickReport | None:
        """Tick after an executor sweep when something can be due: the interval passed, or this
        process recorded an alert since the last tick (other processes' alerts are seen within
        the interval). Returns None when skipped; a tick already running elsewhere in this
        process is not waited for."""
        clock = time.monotonic()
        writes = recorder.written()
        if clock < self._next_tick and writes == self._seen_writes:
            return None
        if not self._gate.acquire(blocking=False):
            return None
        try:
            self._next_tick, self._seen_writes = clock + self.tick_every, writes
            return self.tick(now)
        finally:
            self._gate.release()

    # -- the tick ------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        now = now or utcnow()
        # An idle tick (nothing new, nothing firing) only reads, so a sweep every 2 s costs no
        # write; the clock's stamp (the executor clock's heartbeat metric) is renewed every
        # STAMP_EVERY even then.
        idle, sendable = self._probe(now)
        report = TickReport() if idle else self.db.run(lambda s: self._decide(s, now))
        if idle and not sendable:
            return report  # the common case: one read session, four indexed probes at most
        sent, failed = self.send_due(now)
        report.sent, report.failed = sent, failed
        return report

    def _probe(self, now: datetime) -> tuple[bool, bool]:
        """(idle: nothing to decide, sendable: a notification is due), in one read session;
        sendable is only looked up when idle (a deciding tick sends in any case)."""
        with self.db.reader() as s:
            stamp = s.execute(select(AlertClock.ticked_at).where(AlertClock.id == 1)).scalar_one_or_none()
            if stamp is None or now - stamp >= STAMP_EVERY:
                return False, True
            work = (
                s.execute(select(AlertEvent.id).where(AlertEvent.folded_at.is_(None)).limit(1)).first()
                or s.execute(select(AlertGroup.id).where(AlertGroup.status == "firing").limit(1)).first()
            )
            if work is not None:
                return False, True
            return True, s.execute(select(AlertNotification.id).where(_due(now)).limit(1)).first() is not None

    def _decide(self, s: Session, now: datetime) -> TickReport:
        report = TickReport()
        took = _rows(s.execute(update(AlertClock).where(AlertClock.id == 1).values(ticked_at=now)))
        if not took:
            s.add(AlertClock(id=1, ticked_at=now))
            s.flush()
        targets = self.sender.targets()
        groups: dict[tuple[str, str], AlertGroup] = {
            (g.kind, g.channel): g for g in s.execute(select(AlertGroup)).scalars()
        }
        fresh = (
            s.execute(
                select(AlertEvent)
                .where(AlertEvent.folded_at.is_(None))
                .order_by(AlertEvent.id)
                .limit(FOLD_BATCH)
            )
            .scalars()
            .all()
        )
        for ev in fresh:
            ev.folded_at = now
            report.folded += 1
            if ev.kind in self.kinds:
                self._fold(s, groups, ev)
        s.flush()
        silences = self._silences(s, now)
        firing = [g for g in groups.values() if g.status == "firing"]
        for g in firing:
            reason = self._cleared(s, g, now)
            if reason is None:
                continue
            g.status, g.resolved_at, g.resolved_reason, g.notify_at = "resolved", now, reason, None
            report.resolved += 1
            # only what ops were told gets a resolved message; a silenced group stays silent
            if g.notified_at is not None and not _silenced(silences, g):
                report.notified += self._enqueue(s, g, "resolved", now, targets)
        active = {(g.kind, g.channel) for g in groups.values() if g.status == "firing"}
        for g in groups.values():
            if g.status != "firing" or g.notify_at is None or g.notify_at > now:
                continue
            kind = KINDS[g.kind]
            silence = _silenced(silences, g)
            if silence is not None:
                if kind.condition:
                    pass  # told at the first tick after the silence ends or is lifted, if still firing
                else:
                    g.status, g.resolved_at, g.resolved_reason, g.notify_at = (
                        "resolved",
                        now,
                        "静默 / silenced",
                        None,
                    )
                    g.pending = 0
                continue
            if any((k, g.channel) in active for k in kind.inhibited_by):
                g.notify_at = now + self.timing.group_interval  # looked at again after that
                continue
            state = "firing" if g.pending else "repeat"
            report.notified += self._enqueue(s, g, state, now, targets)
            g.notified_at, g.pending = now, 0
            g.notify_at = now + self.timing.repeat_interval if kind.condition else None
        return report

    def _fold(self, s: Session, groups: dict[tuple[str, str], AlertGroup], ev: AlertEvent) -> None:
        key = (ev.kind, ev.channel)
        g = groups.get(key)
        if g is None:
            g = AlertGroup(kind=ev.kind, channel=ev.channel, status="resolved", firing_since=ev.at)
            g.last_event_at, g.events, g.pending, g.samples = ev.at, 0, 0, []
            s.add(g)
            groups[key] = g
        if g.status != "firing":
            g.status, g.firing_since, g.events, g.pending, g.samples = "firing", ev.at, 0, 0, []
            g.first_error = g.last_error = None
            g.notified_at = g.resolved_at = g.resolved_reason = None
            g.notify_at = ev.at + self.timing.group_wait
        g.events += 1
        g.pending += 1
        g.last_event_at = max(g.last_event_at, ev.at)
        error = ev.data.get("error") or ev.data.get("reason")
        if error:
            g.first_error = g.first_error or str(error)[:1000]
            g.last_error = str(error)[:1000]
        g.samples = [*g.samples, ev.data][-SAMPLES:]
        if g.notified_at is not None and KINDS[g.kind].news_renotifies:
            soon = g.notified_at + self.timing.group_interval
            g.notify_at = soon if g.notify_at is None else min(g.notify_at, soon)
        elif g.notified_at is None and g.notify_at is None:
            g.notify_at = g.firing_since + self.timing.group_wait

    def _cleared(self, s: Session, g: AlertGroup, now: datetime) -> str | None:
        """Why a firing group is over, or None while it fires."""
        kind = KINDS[g.kind]
        if not kind.condition:
            # news: closed once told and quiet for a group_interval
            if (
                g.pending == 0
                and g.notified_at is not None
                and g.notified_at + self.timing.group_interval <= now
            ):
                return "已告知 / told"
            return None
        st = s.execute(select(ChannelState).where(ChannelState.channel == g.channel)).scalar_one_or_none()
        paused = bool(st and st.paused)
        breaker = st.breaker if st else "closed"
        if g.kind == "breaker.open":
            return "熔断器已闭合 / breaker closed" if breaker == "closed" else None
        if g.kind == "channel.paused":
            return "渠道已恢复 / channel resumed" if not paused else None
        if g.kind == "channel.credentials_rejected":
            return "渠道已恢复 / channel resumed" if not paused and breaker == "closed" else None
        # delivery.failed: over when the failures of this episode were replayed (or superseded)
        still = s.execute(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.channel == g.channel,
                Delivery.state == "failed",
                Delivery.updated_at >= g.firing_since - timedelta(seconds=1),
            )
        ).scalar_one()
        return "失败投递已重放 / failed deliveries replayed" if still == 0 else None

    def _silences(self, s: Session, now: datetime) -> list[AlertSilence]:
        return list(
            s.execute(
                select(AlertSilence).where(
                    AlertSilence.removed_at.is_(None),
                    AlertSilence.starts_at <= now,
                    AlertSilence.ends_at > now,
                )
            ).scalars()
        )

    def _context(self, s: Session, g: AlertGroup) -> render.Context:
        failed = held = 0
        if g.channel:
            counts: dict[str, int] = {
                state: int(n)
                for state, n in s.execute(
                    select(Delivery.state, func.count())
                    .where(Delivery.channel == g.channel, Delivery.state.in_(("failed", "held")))
                    .group_by(Delivery.state)
                ).all()
            }
            failed, held = int(counts.get("failed", 0)), int(counts.get("held", 0))
        items: list[tuple[str, str]] = []
        ids = [d["item_id"] for d in g.samples if isinstance(d.get("item_id"), int)]
        if ids:
            found = {
                i: (uid, title)
                for i, uid, title in s.execute(select(Item.id, Item.uid, Item.title).where(Item.id.in_(ids)))
            }
            items = list(dict.fromkeys(found[i] for i in ids if i in found))
        else:
            items = list(
                dict.fromkeys(
                    (str(d["uid"]), str(d["title"])) for d in g.samples if d.get("uid") and d.get("title")
                )
            )
        return render.Context(failed=failed, held=held, items=tuple(items), link=self._link(g))

    def _link(self, g: AlertGroup) -> str:
        if not self.dashboard:
            return ""
        if g.kind == "delivery.failed":
            return f"{self.dashboard}/app/ops/failed?channel={g.channel}"
        if g.channel:
            return f"{self.dashboard}/app/ops/channels"
        return f"{self.dashboard}/app/ops/alerts"

    def _enqueue(self, s: Session, g: AlertGroup, state: str, now: datetime, targets: list[str]) -> int:
        payload = render.message(
            kind=g.kind,
            channel=g.channel,
            state=state,
            firing_since=g.firing_since,
            events=g.events,
            new_events=g.pending,
            first_error=g.first_error,
            last_error=g.last_error,
            samples=list(g.samples),
            context=self._context(s, g),
            resolved_at=g.resolved_at,
            resolved_reason=g.resolved_reason,
            max_details=self.settings.alerts.max_details,
        )
        s.flush()  # a new group's id
        payload["group"] = g.id
        # mail clients thread one episode's messages (firing, repeats, resolved) together
        payload["thread"] = f"{g.id}-{int(g.firing_since.timestamp())}"
        for target in targets or ["none"]:
            s.add(
                AlertNotification(
                    group_id=g.id,
                    kind=g.kind,
                    channel=g.channel,
                    state="resolved" if state == "resolved" else "firing",
                    target=target,
                    title=payload["title"][:300],
                    payload=payload,
                    # with no target configured the decision is still recorded (ops page, CLI)
                    status="pending" if targets else "failed",
                    attempts=0,
                    next_attempt_at=now,
                    last_error=None if targets else "未配置告警目标 / no alert target configured",
                    created_at=now,
                )
            )
        return len(targets)

    # -- sending -------------------------------------------------------------------------------
    def send_due(self, now: datetime | None = None, limit: int = 100) -> tuple[int, int]:
        now = now or utcnow()
        due = _due(now)

        with self.db.reader() as s:
            if s.execute(select(AlertNotification.id).where(due).limit(1)).first() is None:
                return 0, 0  # the common case, answered without a write

        def claim(s: Session) -> list[tuple[int, str, dict[str, Any]]]:
            rows = s.execute(
                select(AlertNotification.id, AlertNotification.target, AlertNotification.payload)
                .where(due)
                .order_by(AlertNotification.id)
                .limit(limit)
            ).all()
            mine = []
            for nid, target, payload in rows:
                took = _rows(
                    s.execute(
                        update(AlertNotification)
                        .where(AlertNotification.id == nid, due)
                        .values(status="sending", lease_expires_at=now + SEND_LEASE)
                    )
                )
                if took:
                    mine.append((nid, target, dict(payload)))
            return mine

        sent = failed = 0
        for nid, target, payload in self.db.run(claim):
            started = time.perf_counter()
            error: str | None = None
            try:
                self.sender.send(target, f"alert_{nid}", {**payload, "notification": nid})
            except Exception as exc:  # a target down is recorded and retried, never raised
                error = f"{type(exc).__name__}: {exc}"[:1000]
                log.warning("alert %s to %s failed: %s", nid, target, error)
            took_ms = (time.perf_counter() - started) * 1000.0
            self._record(nid, error, took_ms, now)
            if error is None:
                sent += 1
            else:
                failed += 1
        return sent, failed

    def _record(self, nid: int, error: str | None, duration_ms: float, now: datetime) -> None:
        self.db.run(lambda s: self._outcome(s, nid, error, duration_ms, now))

    def _outcome(self, s: Session, nid: int, error: str | None, duration_ms: float, now: datetime) -> None:
        s.add(
            AlertAttempt(notification_id=nid, at=now, ok=error is None, duration_ms=duration_ms, error=error)
        )
        n = s.get(AlertNotification, nid)
        if n is None:
            return
        n.attempts += 1
        n.lease_expires_at = None
        if error is None:
            n.status, n.sent_at, n.last_error = "sent", now, None
        elif n.attempts >= self.retry.max_attempts:
            n.status, n.last_error = "failed", error
        else:
            n.status, n.last_error = "pending", error
            n.next_attempt_at = now + timedelta(seconds=self.retry.delay(n.attempts))


def _due(now: datetime) -> Any:
    """A notification to send now: pending and its time come, or its send lease expired (the
    sender died mid-send); ix_alert_notifications_due answers it."""
    return ((AlertNotification.status == "pending") & (AlertNotification.next_attempt_at <= now)) | (
        (AlertNotification.status == "sending") & (AlertNotification.lease_expires_at < now)
    )


def _silenced(silences: list[AlertSilence], g: AlertGroup) -> AlertSilence | None:
    for sil in silences:
        if sil.kind in ("*", g.kind) and sil.channel in ("*", g.channel):
            return sil
    return None
