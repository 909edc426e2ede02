"""The official working-day calendar: holidays and make-up working days (调休), per year.

Where a year's schedule comes from, first match wins:

1. an official schedule ops loaded (`publisher calendar load FILE`, table `calendar_years`):
   an explicit decision by the office, so it also corrects the library if the State Council
   changes a schedule late;
2. `chinese-calendar`, the maintained library (it knows 2004 up to the year after its release
   and raises NotImplementedError beyond);
3. otherwise a *provisional* schedule: statutory holidays from `holidays` plus weekends, with
   no make-up working days, because the State Council publishes next year's schedule only
   late in the year (DOMAIN.md §3). Anything computed from it is marked provisional and is
   recomputed once ops load the official schedule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar
import holidays as holidays_lib
from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.domain.clock import utcnow
from publisher.domain.errors import ValidationError
from publisher.store.models import CalendarYear

SOURCE_LIBRARY = "chinese-calendar"
SOURCE_LOADED = "loaded"
SOURCE_PROVISIONAL = "provisional"


@dataclass(frozen=True)
class YearSchedule:
    """Holidays and make-up working days of one year; every other day is a working day
    from Monday to Friday."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str

    @property
    def provisional(self) -> bool:
        return self.source == SOURCE_PROVISIONAL

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


@lru_cache(maxsize=64)
def library_schedule(year: int) -> YearSchedule | None:
    """The year as chinese-calendar knows it, or None when it does not know the year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    hols: set[date] = set()
    work: set[date] = set()
    day = date(year, 1, 1)
    while day.year == year:
        official = chinese_calendar.is_workday(day)
        if official and day.weekday() >= 5:
            work.add(day)
        elif not official and day.weekday() < 5:
            hols.add(day)
        day += timedelta(days=1)
    return YearSchedule(year, frozenset(hols), frozenset(work), SOURCE_LIBRARY)


@lru_cache(maxsize=64)
def provisional_schedule(year: int) -> YearSchedule:
    """Statutory holidays (including the library's observed days off) and weekends."""
    found = holidays_lib.country_holidays("CN", years=year)
    return YearSchedule(year, frozenset(d for d in found if d.year == year), frozenset(), SOURCE_PROVISIONAL)


@dataclass
class WorkCalendar:
    """Working-day arithmetic over the schedules of several years. `loaded` holds the
    official schedules ops loaded; build one per request with `WorkCalendar.from_store`."""

    loaded: Mapping[int, YearSchedule] = field(default_factory=dict)

    @classmethod
    def from_store(cls, session: Session) -> WorkCalendar:
        rows = session.execute(select(CalendarYear)).scalars().all()
        return cls({r.year: schedule_of(r) for r in rows})

    def schedule(self, year: int) -> YearSchedule:
        if year in self.loaded:
            return self.loaded[year]
        return library_schedule(year) or provisional_schedule(year)

    def is_workday(self, day: date) -> bool:
        return self.schedule(day.year).is_workday(day)

    def add_working_days(self, start: date, n: int) -> tuple[date, bool]:
        """The n-th working day after `start` (start itself not counted) and whether any
        year it crossed was provisional."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, counted = start, 0
        provisional = False
        while counted < n:
            day += timedelta(days=1)
            schedule = self.schedule(day.year)
            provisional = provisional or schedule.provisional
            if schedule.is_workday(day):
                counted += 1
        return day, provisional

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end == start:
            return 0
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return sign * count

    def describe(self, year: int) -> dict[str, Any]:
        s = self.schedule(year)
        return {
            "year": year,
            "source": s.source,
            "provisional": s.provisional,
            "holidays": sorted(d.isoformat() for d in s.holidays),
            "workdays": sorted(d.isoformat() for d in s.workdays),
        }


def schedule_of(row: CalendarYear) -> YearSchedule:
    return YearSchedule(
        row.year,
        frozenset(date.fromisoformat(d) for d in row.holidays),
        frozenset(date.fromisoformat(d) for d in row.workdays),
        SOURCE_LOADED,
    )


# -- the data file ops load ---------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleFile:
    year: int
    holidays: list[date]
    workdays: list[date]
    source: str | None


def _dates(value: Any, field_name: str, year: int) -> list[date]:
    if not isinstance(value, list):
        raise ValidationError.one(field_name, "应为日期列表 / expected a list of YYYY-MM-DD dates")
    out: list[date] = []
    for i, raw in enumerate(value):
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            raise ValidationError.one(
                f"{field_name}.{i}", "日期格式应为 YYYY-MM-DD / expected YYYY-MM-DD"
            ) from None
        if day.year != year:
            raise ValidationError.one(f"{field_name}.{i}", f"{day} 不在 {year} 年内 / not in {year}")
        out.append(day)
    return sorted(set(out))


def parse_schedule(data: Any) -> ScheduleFile:
    """Validate a schedule file: {"year": 2027, "source": "国办发明电〔2026〕…",
    "holidays": ["2027-01-01", …], "workdays": ["2027-02-14", …]}."""
    if not isinstance(data, dict):
        raise ValidationError.one("body", "应为 JSON 对象 / expected a JSON object")
    unknown = sorted(set(data) - {"year", "source", "holidays", "workdays"})
    if unknown:
        raise ValidationError.one(unknown[0], "未知字段 / unknown field")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise ValidationError.one("year", "年份应为 2000-2100 的整数 / year must be an integer 2000-2100")
    hols = _dates(data.get("holidays"), "holidays", year)
    work = _dates(data.get("workdays", []), "workdays", year)
    both = set(hols) & set(work)
    if both:
        raise ValidationError.one(
            "workdays", f"{min(both)} 同时列为放假和上班 / listed as holiday and workday"
        )
    weekend_work = [d for d in work if d.weekday() < 5]
    if weekend_work:
        raise ValidationError.one(
            "workdays", f"{weekend_work[0]} 是工作日，无需调休上班 / make-up working days fall on weekends"
        )
    if not hols:
        raise ValidationError.one("holidays", "至少应有一个节假日 / at least one holiday")
    source = data.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 300):
        raise ValidationError.one("source", "来源应为不超过300字的文本 / source: text up to 300 characters")
    return ScheduleFile(year, hols, work, source)


def read_schedule_file(path: Path) -> ScheduleFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError.one(
            "file", f"{path.name}: 不是有效的 UTF-8 JSON / not valid UTF-8 JSON: {exc}"
        ) from None
    return parse_schedule(data)


def store_schedule(session: Session, schedule: ScheduleFile, *, by: str) -> CalendarYear:
    """Insert or replace the official schedule of a year."""
    row = session.get(CalendarYear, schedule.year, with_for_update=True)
    if row is None:
        row = CalendarYear(year=schedule.year)
        session.add(row)
    row.holidays = [d.isoformat() for d in schedule.holidays]
    row.workdays = [d.isoformat() for d in schedule.workdays]
    row.source = schedule.source
    row.loaded_by = by
    row.loaded_at = utcnow()
    session.flush()
    return row


def export_schedule(schedule: YearSchedule, source: str | None = None) -> dict[str, Any]:
    """The data-file form of a schedule (what `store_schedule` reads back)."""
    return {
        "year": schedule.year,
        "source": source or schedule.source,
        "holidays": sorted(d.isoformat() for d in schedule.holidays),
        "workdays": sorted(d.isoformat() for d in schedule.workdays),
    }


def years_of(days: Iterable[date]) -> list[int]:
    return sorted({d.year for d in days})
