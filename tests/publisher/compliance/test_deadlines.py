"""Deadlines on the store (SQLite and PostgreSQL): working days left, at-risk and overdue
events raised once after commit, validity clocks, and recomputation when ops load a calendar."""

from __future__ import annotations

from datetime import date

import pytest

from publisher.compliance import check_deadlines, deadlines, overdue
from publisher.compliance.calendar import parse_schedule, store_schedule
from publisher.compliance.deadlines import CONTENT, VALIDITY
from publisher.domain.clock import local_today, utcnow
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.compliance.support import at, caught, draft, release
from tests.samples import policy


def clocks(service: Service, now, uid: str) -> dict[str, dict]:
    with service.db.reader() as s:
        return {d.clock: d.as_dict() for d in deadlines(s, now, uid=uid)}


def test_working_days_left_across_national_day_and_events_once(service: Service, team: Team) -> None:
    # given information formed on 2024-09-25, still a draft: due 2024-10-28 (20 working days)
    uid = draft(service, team, policy(formed_at="2024-09-25", issue_date="2024-09-20"))
    d = clocks(service, at(2024, 9, 27), uid)[CONTENT]
    assert (d["started_on"], d["due_on"], d["provisional"]) == ("2024-09-25", "2024-10-28", False)
    # on 09-27 the working days still ahead are 09-29 (make-up Sunday), 09-30, 10-08 … 10-28
    assert (d["status"], d["working_days_left"]) == ("open", 18)

    # when the sweeper checks on Friday 10-18 (6 left: 10-21 … 10-25, 10-28) nothing is raised
    with caught("deadline.at_risk", "deadline.overdue") as got:
        with service.db.transaction() as s:
            assert check_deadlines(s, at(2024, 10, 18)) == []
        assert got == []
        # on Monday 10-21, 5 working days are left: at risk, raised once, after commit
        with service.db.transaction() as s:
            [risky] = check_deadlines(s, at(2024, 10, 21))
            assert risky.working_days_left == 5 and risky.status == "at_risk"
            assert got == []  # not before the commit
        assert [(n, e["uid"], e["working_days_left"]) for n, e in got] == [("deadline.at_risk", uid, 5)]
        with service.db.transaction() as s:
            check_deadlines(s, at(2024, 10, 22))
        assert len(got) == 1
        # after the due date it is overdue: listed, and raised once as overdue
        with service.db.transaction() as s:
            check_deadlines(s, at(2024, 10, 29))
            check_deadlines(s, at(2024, 10, 30))
        assert [n for n, _ in got] == ["deadline.at_risk", "deadline.overdue"]
    with service.db.reader() as s:
        late = overdue(s, at(2024, 10, 29))
    assert [(o.uid, o.working_days_left) for o in late] == [(uid, -1)]


def test_a_rolled_back_check_raises_nothing(service: Service, team: Team) -> None:
    draft(service, team, policy(formed_at="2025-01-20"))
    with caught("deadline.at_risk") as got:
        with pytest.raises(RuntimeError), service.db.transaction() as s:
            assert check_deadlines(s, at(2025, 2, 17))
            raise RuntimeError("sweeper crashed")
        assert got == []
        with service.db.transaction() as s:
            check_deadlines(s, at(2025, 2, 17))
        # Spring Festival 2025: due 02-21; on 02-17 four working days remain after today
        assert [(e["due_on"], e["working_days_left"]) for _, e in got] == [("2025-02-21", 4)]


def test_publishing_meets_the_clock_late_or_on_time(service: Service, team: Team) -> None:
    old = release(service, team, policy(ref="old", issue_date="2024-09-20", formed_at="2024-09-25"))
    today = local_today()
    fresh = release(service, team, policy(ref="fresh", doc_number=None, issue_date=today.isoformat()))
    now = utcnow()
    assert clocks(service, now, old)[CONTENT]["status"] == "met_late"
    d = clocks(service, now, fresh)[CONTENT]
    assert d["status"] == "met" and d["met_at"] is not None and d["started_on"] == today.isoformat()
    with service.db.reader() as s:
        assert overdue(s, now) == []


def test_a_validity_change_starts_its_own_clock(service: Service, team: Team) -> None:
    uid = release(service, team, policy(issue_date=local_today().isoformat()))
    # abolished today, announced today: met; a change dated long ago and announced now: late
    service.abolish(team.approver, uid, on=date(2024, 1, 2))
    d = clocks(service, utcnow(), uid)
    assert d[VALIDITY]["started_on"] == "2024-01-02" and d[VALIDITY]["status"] == "met_late"
    assert d[CONTENT]["status"] == "met"


def test_only_active_disclosure_and_not_withdrawn(service: Service, team: Team) -> None:
    on_request = draft(service, team, policy(ref="req", disclosure="依申请公开", formed_at="2024-01-02"))
    gone = release(service, team, policy(ref="gone", doc_number=None, formed_at="2024-01-02"))
    service.withdraw(team.approver, gone, "错误发布")
    with service.db.reader() as s:
        uids = {d.uid for d in deadlines(s, at(2026, 11, 30))}
    assert on_request not in uids and gone not in uids


def test_loading_the_official_calendar_recomputes_provisional_due_dates(service: Service, team: Team) -> None:
    uid = draft(service, team, policy(formed_at="2026-12-20"))
    d = clocks(service, at(2026, 12, 21), uid)[CONTENT]
    assert (d["due_on"], d["provisional"]) == ("2027-01-18", True)
    with service.db.transaction() as s:
        store_schedule(
            s,
            parse_schedule(
                {
                    "year": 2027,
                    "source": "test schedule",
                    "holidays": ["2027-01-01"],
                    "workdays": ["2027-01-09"],
                }
            ),
            by="ops",
        )
    d = clocks(service, at(2026, 12, 21), uid)[CONTENT]
    assert (d["due_on"], d["provisional"]) == ("2027-01-15", False)
