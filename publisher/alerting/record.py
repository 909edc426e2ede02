"""Write an alert fact in the caller's transaction: committed with its cause, rolled back with it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from publisher.alerting.kinds import KINDS
from publisher.domain.clock import utcnow
from publisher.store.models import AlertEvent


def record(session: Session, kind: str, data: dict[str, Any], *, at: datetime | None = None) -> None:
    """Add one alert event to `session`'s transaction. Kinds nobody alerts on (a breaker going
    half-open) are not stored; the data is stored as JSON (dates as ISO text)."""
    if kind not in KINDS:
        return
    session.add(
        AlertEvent(
            at=at or utcnow(),
            kind=kind,
            channel=str(data.get("channel") or "")[:64],
            data=json.loads(json.dumps(data, default=str, ensure_ascii=False)),
            folded_at=None,
        )
    )
