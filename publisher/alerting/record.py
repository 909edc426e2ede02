"""Write an alert fact in the caller's transaction: committed with its cause, rolled back with it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from publisher.alerting.kinds import KINDS
from publisher.domain.clock import utcnow
from publisher.store.models import AlertEvent

# Events recorded in this process, so its alert clock ticks right after the sweep that follows
# one instead of waiting out its interval (clock.AlertClockRunner.on_sweep). Counted when added,
# not committed: a rolled-back event costs one needless tick, a not-yet-committed one is found
# at the next interval. Two threads racing may count one event, which still changes the number.
_last = 0


def written() -> int:
    """How many alert events this process has recorded so far (a change is all that matters)."""
    return _last


def record(session: Session, kind: str, data: dict[str, Any], *, at: datetime | None = None) -> None:
    """Add one alert event to `session`'s transaction. Kinds nobody alerts on (a breaker going
    half-open) are not stored; the data is stored as JSON (dates as ISO text)."""
    global _last
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
    _last += 1
