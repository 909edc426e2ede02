"""Working-day arithmetic on the official calendar: National Day and Spring Festival with their
make-up working days (chinese-calendar's real 2024/2025 data), and a provisional 2027."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from publisher.compliance.calendar import (
    SOURCE_LIBRARY,
    SOURCE_LOADED,
    SOURCE_PROVISIONAL,
    WorkCalendar,
    YearSchedule,
    parse_schedule,
)
from publisher.domain.errors import ValidationError


def test_national_day_2024_skips_the_holiday_and_counts_both_make_up_days() -> None:
    cal = WorkCalendar()
    # given information formed on Wednesday 2024-09-25; 2024-10-01..07 off, Sun 09-29 and Sat 10-12 worked
    due, provisional = cal.add_working_days(date(2024, 9, 25), 20)
    assert (due, provisional) == (date(2024, 10, 28), False)
    assert cal.is_workday(date(2024, 9, 29)) and cal.is_workday(date(2024, 10, 12))
    assert not cal.is_workday(date(2024, 10, 7))
    # the same answer as counting chinese-calendar's own working days
    assert chinese_calendar.get_workdays(date(2024, 9, 26), due)[19] == due


def test_spring_festival_2025_with_make_up_sunday_and_saturday() -> None:
    cal = WorkCalendar()
    # 2025-01-28..02-04 off; Sun 01-26 and Sat 02-08 are working days
    due, provisional = cal.add_working_days(date(2025, 1, 20), 20)
    assert (due, provisional) == (date(2025, 2, 21), False)
    assert cal.working_days_between(date(2025, 1, 24), date(2025, 2, 5)) == 3  # 01-26, 01-27, 02-05
    assert cal.working_days_between(date(2025, 2, 5), date(2025, 1, 24)) == -3
    assert cal.schedule(2025).source == SOURCE_LIBRARY


def test_a_due_date_in_2027_is_provisional_then_official_once_loaded() -> None:
    # given December 2026: chinese-calendar 1.11 raises NotImplementedError for 2027
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    cal = WorkCalendar()
    due, provisional = cal.add_working_days(date(2026, 12, 20), 20)
    # weekends + statutory holidays from `holidays`: 2027-01-01 is off, no make-up days known
    assert (due, provisional) == (date(2027, 1, 18), True)
    assert cal.schedule(2027).source == SOURCE_PROVISIONAL
    assert date(2027, 2, 6) in cal.schedule(2027).holidays  # Spring Festival from the statutory list
    # when ops load a schedule (a test schedule, not the official one) with a make-up Saturday
    loaded = parse_schedule(
        {"year": 2027, "source": "test schedule", "holidays": ["2027-01-01"], "workdays": ["2027-01-09"]}
    )
    schedule = YearSchedule(2027, frozenset(loaded.holidays), frozenset(loaded.workdays), SOURCE_LOADED)
    cal = WorkCalendar({2027: schedule})
    assert cal.add_working_days(date(2026, 12, 20), 20) == (date(2027, 1, 15), False)


def test_a_date_within_a_known_year_is_never_provisional() -> None:
    cal = WorkCalendar()
    day = date(2024, 1, 1)
    while day.year == 2024:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day)
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"year": "2027", "holidays": ["2027-01-01"]}, "year"),
        ({"year": 2027, "holidays": ["2026-12-31"]}, "holidays.0"),
        ({"year": 2027, "holidays": ["2027-13-01"]}, "holidays.0"),
        ({"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}, "workdays"),
        ({"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-04"]}, "workdays"),  # a Monday
        ({"year": 2027, "holidays": []}, "holidays"),
        ({"year": 2027, "holidays": ["2027-01-01"], "extra": 1}, "extra"),
    ],
)
def test_bad_schedule_files_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_schedule(data)
    assert exc.value.errors[0].field == field
