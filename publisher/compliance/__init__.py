"""Disclosure compliance: what makes this a disclosure office's tool (issue #9).

    calendar       the official working-day calendar (chinese-calendar, loaded schedules, provisional fallback)
    deadlines      20 working days from formation or a validity change; at-risk and overdue clocks
    catalogue      the active-disclosure catalogue (主动公开目录) and its exports
    inspection     age of the newest item per channel and column against the inspection thresholds
    applications   answered applications and their conversion to active disclosure (依申请转主动)
    consultations  closed consultations, reminders and adoption reports (采纳情况)
    fees           the three fee catalogues maintained by fee_change items
    annual         the year's figures for the annual report
    service        every read and change of the above, for the routes and the CLI
    routes, cli    its web routes (/api/compliance, /catalogue, /fees, …) and its CLI groups

Periodic checks (`check_deadlines`, `check_inspection`, `check_consultations`) take the
caller's session and raise their events through `publisher.observe.events` after it commits; run
them together with `run_checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from publisher.compliance.config import ComplianceSettings, compliance_settings
from publisher.compliance.consultations import check_consultations
from publisher.compliance.deadlines import Deadline, check_deadlines, deadlines, overdue
from publisher.compliance.inspection import ColumnWatch, check_inspection, inspection_status
from publisher.settings import Settings


@dataclass
class CheckResult:
    deadlines: list[Deadline] = field(default_factory=list)
    inspection: list[ColumnWatch] = field(default_factory=list)
    reminders_added: int = 0


def run_checks(
    session: Session, settings: Settings, now: datetime, config: ComplianceSettings | None = None
) -> CheckResult:
    """Every periodic compliance check, in one transaction (the sweeper or ops call this)."""
    config = config or compliance_settings(settings)
    return CheckResult(
        deadlines=check_deadlines(session, now, config),
        inspection=check_inspection(session, settings, now, config),
        reminders_added=len(check_consultations(session, now, config)),
    )


__all__ = [
    "CheckResult",
    "ComplianceSettings",
    "check_consultations",
    "check_deadlines",
    "check_inspection",
    "compliance_settings",
    "deadlines",
    "inspection_status",
    "overdue",
    "run_checks",
]
