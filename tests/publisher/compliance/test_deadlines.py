"""Deadlines on the store (SQLite and PostgreSQL): working days left, at-risk and overdue
events raised once after commit, validity clocks, and recomputation when ops load a calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from publisher.compliance import ComplianceSettings, check_deadlines, deadlines, overdue
from publisher.compliance.calendar import WorkCalendar, parse_schedule, store_schedule
from publisher.compliance.deadlines import CONTENT, VALIDITY, load_calendar, open_deadlines
from publisher.domain.clock import local_today, utcnow
from publisher.editorial.service import Service
from publisher.store.models import CalendarYear, Item
from tests.conftest import Team
from tests.publisher.compliance.support import at, caught, draft, release
from tests.samples import policy
from tests.support import approve_existing


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


# -- each rule on its own (issue 22: a small change to one must fail a test) ---------------------
SCHEDULE_2027 = {
    "year": 2027,
    "source": "test schedule",
    "holidays": ["2027-01-01"],
    "workdays": ["2027-01-09"],
}


def test_a_clock_as_pages_and_events_read_it(service: Service, team: Team) -> None:
    uid = draft(service, team, policy(ref="p-1", formed_at="2024-09-25", issue_date="2024-09-20"))
    assert clocks(service, at(2024, 9, 27), uid)[CONTENT] == {
        "uid": uid,
        "ref": "p-1",
        "title": policy()["title"],
        "type": "policy",
        "clock": CONTENT,
        "started_on": "2024-09-25",
        "due_on": "2024-10-28",
        "provisional": False,
        "status": "open",
        "working_days_left": 18,
        "met_at": None,
        "status_label": "未到期",
    }
    old = release(service, team, policy(ref="p-2", issue_date="2024-09-20", formed_at="2024-09-25"))
    d = clocks(service, utcnow(), old)[CONTENT]
    with service.db.reader() as s:
        [clock] = [c for c in deadlines(s, utcnow(), uid=old) if c.clock == CONTENT]
    assert clock.met_at is not None and d["met_at"] == clock.met_at.isoformat()
    assert (d["status"], d["status_label"], d["working_days_left"]) == ("met_late", "逾期公开", None)


def test_the_configured_working_days_and_warning_window_are_used(service: Service, team: Team) -> None:
    # 10 working days from Wednesday 2024-09-25 across National Day: 09-26, 27, 29 (make-up
    # Sunday), 30, 10-08 … 11, 12 (make-up Saturday), 14; warned 2 working days ahead
    uid = draft(service, team, policy(formed_at="2024-09-25"))
    short = ComplianceSettings(deadline_working_days=10, warn_working_days=2)
    with service.db.reader() as s:
        [d] = open_deadlines(s, at(2024, 10, 11), short)
        assert (d.uid, d.due_on, d.status, d.working_days_left) == (uid, date(2024, 10, 14), "at_risk", 2)
        assert [x.status for x in open_deadlines(s, at(2024, 10, 10), short)] == ["open"]  # 3 left
        # on the due date itself: at risk with none left, not yet overdue
        assert [(x.status, x.working_days_left) for x in open_deadlines(s, at(2024, 10, 14), short)] == [
            ("at_risk", 0)
        ]
        assert [x.uid for x in overdue(s, at(2024, 10, 15), short)] == [uid]
        assert overdue(s, at(2024, 10, 15)) == []  # 20 days: due 10-28
    with caught("deadline.at_risk", "deadline.overdue") as got:
        with service.db.transaction() as s:
            assert [d.status for d in check_deadlines(s, at(2024, 10, 15), short)] == ["overdue"]
        assert [(n, e["due_on"]) for n, e in got] == [("deadline.overdue", "2024-10-14")]


def test_loading_a_calendar_lists_the_clocks_it_moved(service: Service, team: Team) -> None:
    # 10 working days from Sunday 2026-12-20: 12-21 … 25, 28 … 31, then 2027-01-04 (01-01 is
    # off either way): the same day, no longer provisional once 2027 is loaded
    moved = draft(service, team, policy(ref="moved", formed_at="2026-12-20"))
    draft(service, team, policy(ref="kept", formed_at="2024-09-25"))
    short = ComplianceSettings(deadline_working_days=10)
    with service.db.transaction() as s:
        changed = load_calendar(
            s, parse_schedule(SCHEDULE_2027), by="ops", now=at(2026, 12, 21), config=short
        )
    assert changed == [
        {
            "uid": moved,
            "title": policy()["title"],
            "clock": CONTENT,
            "was": "2027-01-04",
            "was_provisional": True,
            "due_on": "2027-01-04",
            "provisional": False,
        }
    ]
    with service.db.reader() as s:
        row = s.get(CalendarYear, 2027)
        assert row is not None and (row.loaded_by, row.source) == ("ops", "test schedule")


def test_a_version_waiting_for_its_release_time_does_not_meet_the_clock(service: Service, team: Team) -> None:
    # given a published item revised with a new formation date and approved for later
    uid = release(service, team, policy(doc_number=None, formed_at="2024-05-06"))
    later = utcnow().replace(microsecond=0) + timedelta(days=30)
    service.update_item(team.editor, uid, {"formed_at": "2024-06-03", "publish_at": later.isoformat()})
    approve_existing(service, team, uid)
    # then until its release time the new clock is open (overdue), the old one stays met
    now = clocks(service, utcnow(), uid)[CONTENT]
    assert (now["started_on"], now["status"], now["met_at"]) == ("2024-06-03", "overdue", None)
    # and once the release time has passed the clock counts as met (the sweeper releases it)
    after = clocks(service, later + timedelta(hours=1), uid)[CONTENT]
    assert (after["started_on"], after["status"]) == ("2024-06-03", "met_late")
    # met when the revision was made, not when the item first went out
    with service.db.reader() as s:
        first_out = s.scalar(select(Item.published_at).where(Item.uid == uid))
    assert first_out is not None and after["met_at"] > first_out.isoformat()


def test_abolished_by_a_notice_the_change_is_public_when_the_notice_is(service: Service, team: Team) -> None:
    target = release(service, team, policy(ref="target", doc_number=None))
    notice = draft(service, team, policy(ref="notice", doc_number=None, title="关于废止有关文件的通知"))
    today = local_today()
    service.abolish(team.approver, target, on=today, by=notice)
    due, provisional = WorkCalendar().add_working_days(today, 20)
    # the target's abolition version is out, but the notice that abolishes it is not
    assert clocks(service, utcnow(), target)[VALIDITY] == {
        "uid": target,
        "ref": "target",
        "title": policy()["title"],
        "type": "policy",
        "clock": VALIDITY,
        "started_on": today.isoformat(),
        "due_on": due.isoformat(),
        "provisional": provisional,
        "status": "open",
        "working_days_left": 20,
        "met_at": None,
        "status_label": "未到期",
    }
    approve_existing(service, team, notice)
    d = clocks(service, utcnow(), target)[VALIDITY]
    with service.db.reader() as s:
        notice_out = s.scalar(select(Item.published_at).where(Item.uid == notice))
    assert notice_out is not None
    assert (d["status"], d["met_at"], d["working_days_left"]) == ("met", notice_out.isoformat(), None)
    # both items' clocks in one listing, the notice's own content clock among them
    with service.db.reader() as s:
        listed = {(c.uid, c.clock) for c in deadlines(s, utcnow())}
    assert {(target, CONTENT), (target, VALIDITY), (notice, CONTENT)} <= listed
