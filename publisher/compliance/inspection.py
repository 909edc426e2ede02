"""Inspection watch (国办秘函〔2019〕19号): how long since each channel and column got a new item.

For every enabled channel and every column (item type, and "*" for the channel as a whole:
the home page, the WeChat account), the age of the newest item delivered there (a `publish`
delivery confirmed `delivered`; corrections and withdrawals do not count as new content).
Where a rule gives a threshold, the column is `ok`, `at_risk` once its age passes the warning
ratio of the threshold (75 % by default), or `breach`; a column with nothing delivered yet is
`empty`. `check_inspection` raises `inspection.at_risk` once per level and newest item, as
`inspection.overdue` once the column is in breach.

The newest times are not aggregated over the ledger on every read: `check_inspection` folds
them into `inspection_newest`, and a read adds only the deliveries confirmed since (an index
range on `delivered_at`), so a check costs what was delivered lately whatever the archive holds.
"""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from publisher.compliance.alerts import raise_once
from publisher.compliance.config import ComplianceSettings, InspectionRule
from publisher.domain.clock import as_utc
from publisher.domain.item import ITEM_TYPE_LABELS, SITE_PAGE_TYPES, DeliveryState, ItemType, Operation
from publisher.settings import Settings
from publisher.store.models import Delivery, InspectionNewest, Item

ANY = "*"
STATUS_LABELS = {
    "ok": "正常",
    "at_risk": "即将超期",
    "breach": "已超期",
    "empty": "无内容",
    "untracked": "不考核",
}


def add_months(at: datetime, months: int) -> datetime:
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, pycalendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class ColumnWatch:
    channel: str
    column: str
    label: str
    newest_at: datetime | None
    age_days: float | None
    threshold: str | None  # "14 天" / "6 个月"
    warn_at: datetime | None
    breach_at: datetime | None
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "column": self.column,
            "label": self.label,
            "newest_at": self.newest_at.isoformat() if self.newest_at else None,
            "age_days": None if self.age_days is None else round(self.age_days, 2),
            "threshold": self.threshold,
            "warn_at": self.warn_at.isoformat() if self.warn_at else None,
            "breach_at": self.breach_at.isoformat() if self.breach_at else None,
            "status": self.status,
            "status_label": STATUS_LABELS[self.status],
        }


# How far before the newest delivery already folded a check reads again: a delivery is stamped
# when its worker records it and becomes visible when that transaction commits, a moment later
# (and worker hosts' clocks differ a little). Reading the overlap again costs an hour of
# deliveries; missing one would leave a column looking older than it is.
OVERLAP = timedelta(hours=1)


def _delivered_since(session: Session, since: datetime | None) -> list[tuple[str, str, datetime]]:
    stmt = (
        select(Delivery.channel, Item.type, func.max(Delivery.delivered_at))
        .join(Item, Item.id == Delivery.item_id)
        .where(
            Delivery.state == DeliveryState.DELIVERED,
            Delivery.operation == Operation.PUBLISH,
            Delivery.delivered_at.is_not(None),
        )
        .group_by(Delivery.channel, Item.type)
    )
    if since is not None:  # ix_deliveries_delivered: the recent range only
        stmt = stmt.where(Delivery.delivered_at >= since)
    return [
        (channel, kind, as_utc(at)) for channel, kind, at in session.execute(stmt).tuples() if at is not None
    ]


def _newest(session: Session, *, fold: bool = False) -> dict[tuple[str, str], datetime]:
    """The newest delivery per (channel, item type), and per channel under ANY: the folded
    table (`inspection_newest`) plus the deliveries confirmed since its newest entry (less
    OVERLAP), so the cost follows what was delivered lately, not the archive. With `fold`
    (the periodic check, in its write transaction) what was found is stored."""
    stored = {
        (channel, kind): as_utc(at)
        for channel, kind, at in session.execute(
            select(InspectionNewest.channel, InspectionNewest.item_type, InspectionNewest.newest_at)
        ).tuples()
    }
    since = max(stored.values()) - OVERLAP if stored else None
    fresh = {
        (channel, kind): at
        for channel, kind, at in _delivered_since(session, since)
        if (channel, kind) not in stored or stored[(channel, kind)] < at
    }
    if fold and fresh:
        _store(session, fresh)
    out: dict[tuple[str, str], datetime] = {}
    for (channel, kind), at in {**stored, **fresh}.items():
        out[(channel, kind)] = at
        if (channel, ANY) not in out or out[(channel, ANY)] < at:
            out[(channel, ANY)] = at
    return out


def _store(session: Session, fresh: dict[tuple[str, str], datetime]) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(InspectionNewest).values(
        [{"channel": c, "item_type": k, "newest_at": at} for (c, k), at in sorted(fresh.items())]
    )
    # two checkers at once (beat and the CLI): the later time wins, never the later writer
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "item_type"],
            set_={"newest_at": stmt.excluded.newest_at},
            where=InspectionNewest.newest_at < stmt.excluded.newest_at,
        )
    )


def _watch(
    rule: InspectionRule | None,
    channel: str,
    column: str,
    newest: datetime | None,
    now: datetime,
    ratio: float,
) -> ColumnWatch:
    label = (
        rule.label
        if rule
        else ("全部栏目 / all columns" if column == ANY else ITEM_TYPE_LABELS[ItemType(column)])
    )
    age = None if newest is None else (now - newest).total_seconds() / 86400
    if rule is None:
        return ColumnWatch(channel, column, label, newest, age, None, None, None, "untracked")
    threshold = f"{rule.days} 天" if rule.days else f"{rule.months} 个月"
    if newest is None:
        return ColumnWatch(channel, column, label, None, None, threshold, None, None, "empty")
    breach_at = newest + timedelta(days=rule.days) if rule.days else add_months(newest, rule.months)
    warn_at = newest + (breach_at - newest) * ratio
    status = "breach" if now >= breach_at else "at_risk" if now >= warn_at else "ok"
    return ColumnWatch(channel, column, label, newest, age, threshold, warn_at, breach_at, status)


def inspection_status(
    session: Session,
    settings: Settings,
    now: datetime,
    config: ComplianceSettings | None = None,
    *,
    fold: bool = False,
) -> list[ColumnWatch]:
    """One row per enabled channel and column: the channel as a whole first, then each type.
    With `fold` (a write transaction) the newest deliveries found are stored for the next read."""
    config = config or ComplianceSettings()
    newest = _newest(session, fold=fold)
    rules = {(r.channel, r.column): r for r in config.inspection}
    channels = sorted(set(settings.enabled_channels()) | {c for c, _ in newest})
    out = []
    for channel in channels:
        for column in (ANY, *(t.value for t in ItemType if t not in SITE_PAGE_TYPES)):
            rule = rules.get((channel, column))
            out.append(
                _watch(
                    rule, channel, column, newest.get((channel, column)), now, config.inspection_warn_ratio
                )
            )
    return out


def check_inspection(
    session: Session, settings: Settings, now: datetime, config: ComplianceSettings | None = None
) -> list[ColumnWatch]:
    """Raise `inspection.at_risk` (`inspection.overdue` in breach) once per column, level and
    newest item; returns the columns at risk or in breach (events go out after the caller's
    commit)."""
    risky = [
        w
        for w in inspection_status(session, settings, now, config, fold=True)
        if w.status in ("at_risk", "breach")
    ]
    for w in risky:
        assert w.newest_at is not None
        raise_once(
            session,
            # a breached column is alerted as overdue, never as "due soon" (即将超期)
            "inspection.overdue" if w.status == "breach" else "inspection.at_risk",
            f"{w.channel}:{w.column}:{w.newest_at.isoformat()}:{w.status}",
            w.as_dict(),
        )
    return risky
