"""The compliance service: every read and change of the compliance data, one transaction each.

The API and public pages (publisher/compliance/routes.py) and the CLI group
(publisher/compliance/cli.py) call these methods and never open a database session. Roles
are checked here (loading the calendar and running the checks: ops; applications and
adoption reports: editor, in the modules below), so the web and the CLI refuse the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from publisher.compliance import applications, consultations, run_checks
from publisher.compliance.annual import Figure, annual_figures
from publisher.compliance.calendar import ScheduleFile, WorkCalendar, parse_schedule
from publisher.compliance.catalogue import (
    PAGE_SIZE,
    CataloguePage,
    Filters,
    catalogue_options,
    catalogue_page,
    catalogue_rows,
    catalogue_stream,
)
from publisher.compliance.config import ComplianceSettings, compliance_settings
from publisher.compliance.deadlines import deadlines, load_calendar, overdue
from publisher.compliance.fees import FeeChange, fee_history
from publisher.compliance.inspection import inspection_status
from publisher.compliance.links import item_links
from publisher.compliance.report import Report, changed_fields, parse_inputs
from publisher.compliance.report import build as build_report
from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import ValidationError
from publisher.domain.permissions import Permission
from publisher.editorial import audit
from publisher.editorial.auth import Actor
from publisher.editorial.workflow import get_item
from publisher.settings import Settings
from publisher.store.db import Database
from publisher.store.models import AnnualReportInput

T = TypeVar("T")


class ComplianceService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @property
    def config(self) -> ComplianceSettings:
        return compliance_settings(self.settings)

    @staticmethod
    def now() -> datetime:
        return utcnow()

    # -- deadlines and the calendar -------------------------------------------------------------
    def deadlines(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every statutory clock, due date first (optionally one status)."""
        with self.db.reader() as s:
            rows = deadlines(s, self.now(), self.config)
        return [d.as_dict() for d in rows if status is None or d.status == status]

    def overdue(self) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return [d.as_dict() for d in overdue(s, self.now(), self.config)]

    def item_deadlines(self, uid: str) -> list[dict[str, Any]]:
        """An item's clocks (none for an unknown uid)."""
        with self.db.reader() as s:
            return [d.as_dict() for d in deadlines(s, self.now(), self.config, uid=uid)]

    def item(self, uid: str) -> dict[str, Any]:
        """An item's clocks and links (application, consultation)."""
        with self.db.reader() as s:
            item = get_item(s, uid)
            return {
                "uid": item.uid,
                "deadlines": [d.as_dict() for d in deadlines(s, self.now(), self.config, uid=item.uid)],
                "links": item_links(s, item.uid),
            }

    def calendar(self, year: int) -> dict[str, Any]:
        with self.db.reader() as s:
            return WorkCalendar.from_store(s).describe(year)

    def load_calendar(
        self, actor: Actor, data: Any, *, year: int | None = None
    ) -> tuple[ScheduleFile, list[dict[str, Any]], dict[str, Any]]:
        """Load an official schedule (ops); due dates are recomputed. Returns the schedule, the
        recomputed clocks and the year's calendar as now in use."""
        actor.require(Permission.CONFIGURE)
        schedule = parse_schedule(data)
        if year is not None and schedule.year != year:
            raise ValidationError.one("year", f"文件年份 {schedule.year} 与路径 {year} 不符 / year mismatch")
        with self.db.transaction() as s:
            changed = load_calendar(s, schedule, by=actor.name, now=self.now(), config=self.config)
            calendar = WorkCalendar.from_store(s).describe(schedule.year)
        return schedule, changed, calendar

    # -- inspection and the periodic checks -----------------------------------------------------
    def inspection(self) -> list[dict[str, Any]]:
        """Age of the newest item per channel and column against its threshold."""
        with self.db.reader() as s:
            return [w.as_dict() for w in inspection_status(s, self.settings, self.now(), self.config)]

    def run_checks(self, actor: Actor) -> dict[str, Any]:
        """The periodic checks now (ops); their alerts go out after the commit."""
        actor.require(Permission.DELIVERY_OPERATE)
        with self.db.transaction() as s:
            result = run_checks(s, self.settings, self.now(), self.config)
        return {
            "deadlines": [d.as_dict() for d in result.deadlines],
            "inspection": [w.as_dict() for w in result.inspection],
            "reminders_added": result.reminders_added,
        }

    # -- applications (依申请公开 → 主动公开) -------------------------------------------------------
    def record_application(
        self, actor: Actor, data: dict[str, Any], *, private: bool = True
    ) -> dict[str, Any]:
        """Record an answered application (editor)."""
        with self.db.transaction() as s:
            app = applications.record(s, actor, data)
            return applications.as_json(s, app, private=private)

    def applications(self, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """Answered applications, without their applicants."""
        with self.db.reader() as s:
            return applications.listing(s, limit=limit, offset=offset)

    def application(self, actor: Actor, number: str) -> dict[str, Any]:
        """One application with its applicant (editorial roles only)."""
        actor.require(Permission.APPLICANT_READ)
        with self.db.reader() as s:
            return applications.as_json(s, applications.get(s, number), private=True)

    def convert_application(self, actor: Actor, number: str, data: dict[str, Any]) -> str:
        """依申请转主动: a draft item linked to the application (editor); its uid."""
        with self.db.transaction() as s:
            return applications.convert(s, self.settings, actor, number, data).uid

    # -- consultations --------------------------------------------------------------------------
    def reminders(self, *, include_done: bool = False) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return consultations.reminders(s, include_done=include_done)

    def adoption_report(self, actor: Actor, consultation_uid: str, data: dict[str, Any]) -> str:
        """A draft adoption report (采纳情况) linked to the consultation (editor); its uid."""
        with self.db.transaction() as s:
            return consultations.create_adoption_report(s, self.settings, actor, consultation_uid, data).uid

    # -- catalogues and figures -----------------------------------------------------------------
    def catalogue(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        """The active-disclosure catalogue (主动公开目录), optionally filtered: every row, as a list."""
        with self.db.reader() as s:
            return catalogue_rows(s, self.now(), self.settings.public_base_url, filters)

    def catalogue_stream(self, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
        """The same rows for the exports, read a batch at a time as they are consumed (each
        batch in its own read transaction), so memory stays bounded whatever the archive holds."""

        def reading(fn: Callable[[Session], T]) -> T:
            with self.db.reader() as s:
                return fn(s)

        return catalogue_stream(reading, self.now(), self.settings.public_base_url, filters)

    def catalogue_page(
        self, filters: Filters, page: int, page_size: int = PAGE_SIZE
    ) -> tuple[CataloguePage, list[str], list[str]]:
        """One page of the catalogue and the filter form's subjects and years (the public page)."""
        with self.db.reader() as s:
            found = catalogue_page(s, self.now(), self.settings.public_base_url, filters, page, page_size)
            subjects, years = catalogue_options(s)
        return found, subjects, years

    def fee_history(self, as_of: date | None = None) -> list[FeeChange]:
        with self.db.reader() as s:
            return fee_history(s, self.now(), as_of=as_of)

    def annual(self, year: int) -> list[Figure]:
        with self.db.reader() as s:
            return annual_figures(s, year, self.now(), self.settings.public_base_url)

    def annual_report(self, year: int) -> Report:
        """The year's report in the State Council's template (public: no delivery counts)."""
        with self.db.reader() as s:
            return build_report(s, year)

    def save_annual_report(self, actor: Actor, year: int, form: dict[str, str]) -> Report:
        """Store what the report needs and the service cannot know (editor or approver);
        the audit log records only the fields that changed."""
        actor.require(Permission.ITEM_EDIT, Permission.ITEM_APPROVE)
        data = parse_inputs(form)
        with self.db.transaction() as s:
            row = s.get(AnnualReportInput, year)
            before: dict[str, Any] = dict(row.data) if row is not None else {}
            changes = changed_fields(before, data)
            if changes:
                if row is None:
                    row = AnnualReportInput(
                        year=year, data=data, updated_by=actor.name, updated_at=self.now()
                    )
                    s.add(row)
                else:
                    row.data, row.updated_by, row.updated_at = data, actor.name, self.now()
                audit.append(
                    s,
                    actor=actor.name,
                    action=AuditAction.ANNUAL_REPORT_EDIT,
                    reason=f"{year}",
                    data={"year": year, "changes": changes},
                )
        return self.annual_report(year)
