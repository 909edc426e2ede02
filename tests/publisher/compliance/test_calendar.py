"""Working-day arithmetic on the official calendar: National Day and Spring Festival with their
make-up working days (chinese-calendar's real 2024/2025 data), and a provisional 2027."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from publisher.compliance.calendar import (
    SOURCE_LIBRARY,
    SOURCE_LOADED,
    SOURCE_PROVISIONAL,
    WorkCalendar,
    YearSchedule,
    export_schedule,
    parse_schedule,
    read_schedule_file,
    store_schedule,
    years_of,
)
from publisher.domain.errors import ValidationError
from publisher.editorial.service import Service
from publisher.store.models import CalendarYear


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


# -- each rule on its own (issue 22: a small change to one must fail a test) ---------------------
MON, FRI, SAT, SUN = date(2027, 3, 1), date(2027, 3, 5), date(2027, 3, 6), date(2027, 3, 7)


def test_a_schedule_lists_its_exceptions_and_otherwise_works_monday_to_friday() -> None:
    plain = YearSchedule(2027, frozenset(), frozenset(), SOURCE_LOADED)
    assert [plain.is_workday(MON + timedelta(days=i)) for i in range(7)] == [True] * 5 + [False] * 2
    odd = YearSchedule(2027, frozenset({MON}), frozenset({SAT}), SOURCE_LOADED)
    assert not odd.is_workday(MON) and odd.is_workday(SAT) and not odd.is_workday(SUN)
    assert (
        not odd.provisional and YearSchedule(2027, frozenset(), frozenset(), SOURCE_PROVISIONAL).provisional
    )


def test_working_days_are_counted_after_the_start_and_up_to_the_end() -> None:
    cal = WorkCalendar({2027: YearSchedule(2027, frozenset(), frozenset(), SOURCE_LOADED)})
    assert cal.add_working_days(FRI, 1) == (date(2027, 3, 8), False)  # Friday + 1: Monday
    assert cal.add_working_days(MON, 1) == (date(2027, 3, 2), False)
    assert cal.add_working_days(SAT, 5) == (date(2027, 3, 12), False)
    with pytest.raises(ValueError, match="^n must be at least 1$"):
        cal.add_working_days(MON, 0)
    assert cal.working_days_between(MON, MON) == 0
    assert cal.working_days_between(FRI, date(2027, 3, 8)) == 1  # (Fri, Mon]
    assert cal.working_days_between(MON, FRI) == 4  # Tue … Fri
    assert cal.working_days_between(FRI, MON) == -4
    assert cal.working_days_between(FRI, SUN) == 0


def test_a_loaded_year_wins_over_the_library_and_the_library_over_the_statutory_list() -> None:
    mine = YearSchedule(2024, frozenset({date(2024, 3, 4)}), frozenset(), SOURCE_LOADED)
    assert WorkCalendar({2024: mine}).schedule(2024) is mine
    assert WorkCalendar({2024: mine}).schedule(2025).source == SOURCE_LIBRARY
    assert not WorkCalendar({2024: mine}).is_workday(date(2024, 3, 4))
    # chinese-calendar starts in 2004: before, and after its last year, the statutory list
    assert WorkCalendar().schedule(2003).source == SOURCE_PROVISIONAL
    provisional = WorkCalendar().schedule(2027)
    assert provisional.workdays == frozenset() and {d.year for d in provisional.holidays} == {2027}
    assert date(2027, 1, 1) in provisional.holidays


def test_the_library_year_lists_only_the_exceptions_to_monday_to_friday() -> None:
    s = WorkCalendar().schedule(2024)
    assert date(2024, 10, 1) in s.holidays and date(2024, 10, 5) not in s.holidays  # a Saturday off
    assert date(2024, 9, 29) in s.workdays and date(2024, 10, 12) in s.workdays
    assert all(d.weekday() < 5 for d in s.holidays) and all(d.weekday() >= 5 for d in s.workdays)
    assert {d.year for d in s.holidays | s.workdays} == {2024}
    assert date(2024, 1, 1) in s.holidays and date(2024, 12, 31) not in s.holidays


def test_describe_lists_a_year_as_the_pages_show_it() -> None:
    mine = YearSchedule(
        2027, frozenset({date(2027, 2, 8), date(2027, 1, 1)}), frozenset({SAT}), SOURCE_LOADED
    )
    assert WorkCalendar({2027: mine}).describe(2027) == {
        "year": 2027,
        "source": SOURCE_LOADED,
        "provisional": False,
        "holidays": ["2027-01-01", "2027-02-08"],
        "workdays": ["2027-03-06"],
    }
    assert WorkCalendar().describe(2027)["provisional"] is True


def test_a_schedule_file_reads_back_what_export_writes() -> None:
    parsed = parse_schedule(
        {"year": 2027, "holidays": ["2027-02-08", "2027-01-01", "2027-01-01"], "workdays": ["2027-03-06"]}
    )
    assert parsed.holidays == [date(2027, 1, 1), date(2027, 2, 8)]  # sorted, once each
    assert parsed.workdays == [SAT] and parsed.source is None
    schedule = YearSchedule(2027, frozenset(parsed.holidays), frozenset(parsed.workdays), SOURCE_LOADED)
    exported = export_schedule(schedule, "国办发明电〔2026〕1号")
    assert exported == {
        "year": 2027,
        "source": "国办发明电〔2026〕1号",
        "holidays": ["2027-01-01", "2027-02-08"],
        "workdays": ["2027-03-06"],
    }
    assert parse_schedule(exported).holidays == parsed.holidays
    assert export_schedule(schedule)["source"] == SOURCE_LOADED
    assert years_of([SAT, date(2026, 1, 1), MON]) == [2026, 2027]


def test_a_schedule_file_without_workdays_has_none() -> None:
    assert parse_schedule({"year": 2027, "holidays": ["2027-01-01"]}).workdays == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([2027], "body", "应为 JSON 对象 / expected a JSON object"),
        ({"year": 2027, "holidays": ["2027-01-01"], "extra": 1}, "extra", "未知字段 / unknown field"),
        (
            {"year": True, "holidays": ["2027-01-01"]},
            "year",
            "年份应为 2000-2100 的整数 / year must be an integer 2000-2100",
        ),
        (
            {"year": 1999, "holidays": ["1999-01-01"]},
            "year",
            "年份应为 2000-2100 的整数 / year must be an integer 2000-2100",
        ),
        (
            {"year": 2101, "holidays": ["2101-01-01"]},
            "year",
            "年份应为 2000-2100 的整数 / year must be an integer 2000-2100",
        ),
        (
            {"year": 2027, "holidays": "2027-01-01"},
            "holidays",
            "应为日期列表 / expected a list of YYYY-MM-DD dates",
        ),
        (
            {"year": 2027, "holidays": ["2027-01-01"], "workdays": ["1/9/2027"]},
            "workdays.0",
            "日期格式应为 YYYY-MM-DD / expected YYYY-MM-DD",
        ),
        (
            {"year": 2027, "holidays": ["2027-01-01", "2028-01-03"]},
            "holidays.1",
            "2028-01-03 不在 2027 年内 / not in 2027",
        ),
        (
            {"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-01"]},
            "workdays",
            "2027-01-01 同时列为放假和上班 / listed as holiday and workday",
        ),
        (
            {"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-04"]},
            "workdays",
            "2027-01-04 是工作日，无需调休上班 / make-up working days fall on weekends",
        ),
        ({"year": 2027, "holidays": []}, "holidays", "至少应有一个节假日 / at least one holiday"),
        (
            {"year": 2027, "holidays": ["2027-01-01"], "source": 7},
            "source",
            "来源应为不超过300字的文本 / source: text up to 300 characters",
        ),
        (
            {"year": 2027, "holidays": ["2027-01-01"], "source": "文" * 301},
            "source",
            "来源应为不超过300字的文本 / source: text up to 300 characters",
        ),
    ],
)
def test_a_bad_schedule_file_names_the_field_chinese_first(data: object, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_schedule(data)
    [error] = exc.value.errors
    assert (error.field, error.message) == (field, message)


@pytest.mark.parametrize("year", [2000, 2100])
def test_the_years_at_the_ends_of_the_range_load(year: int) -> None:
    got = parse_schedule({"year": year, "holidays": [f"{year}-01-01"], "source": "文" * 300})
    assert (got.year, got.holidays, got.source) == (year, [date(year, 1, 1)], "文" * 300)


def test_a_schedule_file_on_disk(tmp_path: Path) -> None:
    good = tmp_path / "2027.json"
    good.write_text('{"year": 2027, "holidays": ["2027-01-01"], "source": "国办"}', encoding="utf-8")
    assert read_schedule_file(good).source == "国办"
    for name, raw in (("bad.json", b"{year: 2027"), ("gbk.json", '{"source": "国办"}'.encode("gbk"))):
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(ValidationError) as exc:
            read_schedule_file(path)
        [error] = exc.value.errors
        assert error.field == "file" and error.message.startswith(f"{name}: 不是有效的 UTF-8 JSON"), error


def test_loading_a_year_again_replaces_it(service: Service) -> None:
    first = parse_schedule({"year": 2027, "holidays": ["2027-01-01"], "source": "第一版"})
    second = parse_schedule(
        {"year": 2027, "holidays": ["2027-02-08"], "workdays": ["2027-03-06"], "source": "第二版"}
    )
    with service.db.transaction() as s:
        store_schedule(s, first, by="ops1")
    with service.db.transaction() as s:
        store_schedule(s, second, by="ops2")
    with service.db.reader() as s:
        row = s.get(CalendarYear, 2027)
        assert row is not None
        assert (row.source, row.loaded_by, row.holidays, row.workdays) == (
            "第二版",
            "ops2",
            ["2027-02-08"],
            ["2027-03-06"],
        )
        cal = WorkCalendar.from_store(s)
    assert list(cal.loaded) == [2027]
    loaded = cal.schedule(2027)
    assert (loaded.year, loaded.source, loaded.provisional) == (2027, SOURCE_LOADED, False)
    assert (loaded.holidays, loaded.workdays) == (frozenset({date(2027, 2, 8)}), frozenset({SAT}))
    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 1, 1))
