"""Who paused a channel, when and why: the newest `channel.pause` event of the audit log per
channel (the ledger audits every pause and resume). Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from publisher.domain.actions import AuditAction
from publisher.editorial.service import Service
from publisher.store.models import AuditEvent

RECENT = 500  # pauses are rare: the newest few hundred cover every channel


@dataclass(frozen=True)
class Pause:
    channel: str
    actor: str
    at: datetime
    reason: str | None


def latest_pauses(service: Service, channels: list[str]) -> dict[str, Pause]:
    """For these (paused) channels; the newest pause is near the log's end, so the backward
    read by sequence stops early."""
    out: dict[str, Pause] = {}
    wanted = set(channels)
    if not wanted:
        return out
    with service.db.reader() as s:
        rows = s.execute(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.CHANNEL_PAUSE)
            .order_by(AuditEvent.seq.desc())
            .limit(RECENT)
        ).scalars()
        for e in rows:
            channel = str((e.data or {}).get("channel") or "")
            if channel in wanted and channel not in out:
                out[channel] = Pause(channel, e.actor, e.at, e.reason)
                if len(out) == len(wanted):
                    break
    return out


__all__ = ["Pause", "latest_pauses"]
