"""Time helpers. All stored times are UTC; users see Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC (that is how the store keeps them)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local(value: datetime) -> datetime:
    return as_utc(value).astimezone(SHANGHAI)


def representable(value: datetime) -> bool:
    """Can the time be told in UTC and in Beijing? 0001-01-01T00:00+14:00 or
    9999-12-31T23:59-14:00 parse, but fall outside the years a datetime can hold there."""
    try:
        local(value)
    except OverflowError:
        return False
    return True


def local_today(now: datetime | None = None) -> date:
    return local(now or utcnow()).date()
