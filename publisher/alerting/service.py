"""What ops do with alerts: read the firing groups and recent messages, silence a kind or a
channel for a while and lift a silence (ops role checked here, each audited in the same
transaction), and run the alert clock now. The CLI (`publisher alerts`) and the ops page call
this and open no session of their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from publisher.alerting.clock import AlertClockRunner, TickReport
from publisher.alerting.kinds import KINDS, label
from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import FieldError, NotFoundError, ValidationError
from publisher.domain.permissions import Permission
from publisher.editorial import audit
from publisher.editorial.auth import Actor
from publisher.store.db import Database
from publisher.store.models import AlertGroup, AlertNotification, AlertSilence

MAX_SILENCE = timedelta(days=30)


class AlertService:
    def __init__(self, db: Database, clock: AlertClockRunner) -> None:
        self.db = db
        self.clock = clock

    # -- reads ---------------------------------------------------------------------------------
    def firing(self) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            groups = s.execute(
                select(AlertGroup).where(AlertGroup.status == "firing").order_by(AlertGroup.firing_since)
            ).scalars()
            return [_group(g) for g in groups]

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            rows = s.execute(
                select(AlertNotification).order_by(AlertNotification.id.desc()).limit(limit)
            ).scalars()
            return [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "label": label(n.kind),
                    "channel": n.channel,
                    "state": n.state,
                    "target": n.target,
                    "title": n.title,
                    "status": n.status,
                    "attempts": n.attempts,
                    "last_error": n.last_error,
                    "created_at": n.created_at.isoformat(),
                    "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                }
                for n in rows
            ]

    def silences(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        now = utcnow()
        with self.db.reader() as s:
            stmt = select(AlertSilence).order_by(AlertSilence.id.desc())
            if active_only:
                stmt = stmt.where(AlertSilence.removed_at.is_(None), AlertSilence.ends_at > now)
            return [_silence(x, now) for x in s.execute(stmt).scalars()]

    # -- ops actions ---------------------------------------------------------------------------
    def silence(
        self,
        actor: Actor,
        *,
        kind: str = "*",
        channel: str = "*",
        duration: timedelta,
        reason: str,
        starts_at: datetime | None = None,
    ) -> dict[str, Any]:
        actor.require(Permission.ALERT_MANAGE)
        errors: dict[str, str] = {}
        if kind != "*" and kind not in KINDS:
            errors["kind"] = f"未知的告警类型 / unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}"
        if not channel.strip() or len(channel) > 64:
            errors["channel"] = "渠道须为名称或 * / channel is a name or *"
        if kind == "*" and channel == "*":
            errors["channel"] = "须指定类型或渠道，不能全部静默 / name a kind or a channel: not everything"
        if not timedelta(minutes=1) <= duration <= MAX_SILENCE:
            errors["duration"] = "静默时长须在 1 分钟到 30 天之间 / a silence lasts 1 minute to 30 days"
        if not reason.strip():
            errors["reason"] = "须说明原因 / a reason is required"
        if errors:
            raise ValidationError([FieldError(k, v) for k, v in errors.items()])
        now = utcnow()
        start = starts_at or now

        def add(s: Any) -> dict[str, Any]:
            row = AlertSilence(
                kind=kind,
                channel=channel.strip(),
                starts_at=start,
                ends_at=start + duration,
                reason=reason.strip()[:2000],
                created_by=actor.name,
                created_at=now,
            )
            s.add(row)
            s.flush()
            audit.append(
                s,
                actor=actor.name,
                action=AuditAction.ALERT_SILENCE,
                reason=row.reason,
                data={
                    "silence": row.id,
                    "kind": kind,
                    "channel": row.channel,
                    "ends_at": row.ends_at.isoformat(),
                },
            )
            return _silence(row, now)

        return self.db.run(add)

    def unsilence(self, actor: Actor, silence_id: int) -> dict[str, Any]:
        actor.require(Permission.ALERT_MANAGE)
        now = utcnow()

        def lift(s: Any) -> dict[str, Any]:
            row = s.get(AlertSilence, silence_id)
            if row is None or row.removed_at is not None:
                raise NotFoundError(f"未找到生效的静默 {silence_id} / no such silence")
            row.removed_at, row.removed_by = now, actor.name
            audit.append(
                s,
                actor=actor.name,
                action=AuditAction.ALERT_UNSILENCE,
                data={"silence": row.id, "kind": row.kind, "channel": row.channel},
            )
            return _silence(row, now)

        return self.db.run(lift)

    def send_now(self, actor: Actor) -> TickReport:
        """Run the alert clock once (a deployment without a running executor: cron)."""
        actor.require(Permission.ALERT_MANAGE)
        return self.clock.tick()


def _group(g: AlertGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "kind": g.kind,
        "label": label(g.kind),
        "channel": g.channel,
        "status": g.status,
        "firing_since": g.firing_since.isoformat(),
        "last_event_at": g.last_event_at.isoformat(),
        "events": g.events,
        "pending": g.pending,
        "first_error": g.first_error,
        "last_error": g.last_error,
        "notified_at": g.notified_at.isoformat() if g.notified_at else None,
        "notify_at": g.notify_at.isoformat() if g.notify_at else None,
    }


def _silence(x: AlertSilence, now: datetime) -> dict[str, Any]:
    return {
        "id": x.id,
        "kind": x.kind,
        "channel": x.channel,
        "starts_at": x.starts_at.isoformat(),
        "ends_at": x.ends_at.isoformat(),
        "reason": x.reason,
        "created_by": x.created_by,
        "active": x.removed_at is None and x.starts_at <= now < x.ends_at,
        "removed_by": x.removed_by,
        "removed_at": x.removed_at.isoformat() if x.removed_at else None,
    }
