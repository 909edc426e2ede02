"""A consultation closes: a reminder and a `consultation.closed` event; the adoption report is
drafted pre-linked, routed like the consultation, and delivered through the ledger (embedded
executor + rss); the reminder then closes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, update

from publisher.compliance import check_consultations
from publisher.compliance.consultations import MARK, reminders
from publisher.compliance.links import item_links
from publisher.domain.clock import utcnow
from publisher.runtime import Runtime
from publisher.store.models import Item, JobMark, Reminder
from publisher.web.app import create_app
from tests.conftest import Team
from tests.publisher.compliance.engine_support import delivered, live  # noqa: F401
from tests.publisher.compliance.support import at, caught, release
from tests.publisher.web.live import serve
from tests.samples import sample
from tests.support import wait_for


@pytest.fixture
def api(live: Runtime) -> Iterator[httpx.Client]:  # noqa: F811
    with serve(create_app(live)) as url, httpx.Client(base_url=url) as client:
        yield client


def auth(team: Team, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {team.tokens[who]}"}


def test_adoption_report_linked_routed_and_delivered(live: Runtime, api: httpx.Client, team: Team) -> None:  # noqa: F811
    # given a published consultation open 2019-08-01 … 2019-08-31
    consultation = release(live.service, team, sample("consult-2019-01"))
    wait_for(lambda: delivered(live, consultation), what="consultation delivered")

    # while it is open, nothing; the day after it closes, one reminder and one event
    with caught("consultation.closed") as got:
        with live.db.transaction() as s:
            assert check_consultations(s, at(2019, 8, 31)) == []
        with live.db.transaction() as s:
            [reminder] = check_consultations(s, at(2019, 9, 1))
        with live.db.transaction() as s:
            assert check_consultations(s, at(2019, 9, 2)) == []
    assert [(e["uid"], e["closes"], e["report_due_on"]) for _, e in got] == [
        (consultation, "2019-08-31", "2019-09-29")
    ]
    reminders = api.get("/api/compliance/reminders", headers=auth(team, "editor")).json()
    assert [(r["item"], r["due_on"], r["reports"]) for r in reminders] == [(consultation, "2019-09-29", [])]

    # when the editor asks for the adoption report, a draft linked to the consultation appears
    r = api.post(
        f"/api/compliance/consultations/{consultation}/adoption-report", headers=auth(team, "editor"), json={}
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["type"] == "consultation" and report["state"] == "draft"
    assert report["content"]["consultation"] == {"opens": "2019-08-01", "closes": "2019-08-31"}
    assert "采纳情况" in report["title"]
    dup = api.post(
        f"/api/compliance/consultations/{consultation}/adoption-report", headers=auth(team, "editor"), json={}
    )
    assert dup.status_code == 409
    # the report itself is not a consultation one can report on
    nested = api.post(
        f"/api/compliance/consultations/{report['uid']}/adoption-report", headers=auth(team, "editor")
    )
    assert nested.status_code == 422

    # it is routed like the consultation and delivered through the ledger
    assert live.settings.routed_channels(report["type"]) == live.settings.routed_channels("consultation")
    for action, who in (("submit", "editor"), ("review", "reviewer"), ("approve", "approver")):
        assert api.post(f"/api/items/{report['uid']}/{action}", headers=auth(team, who)).status_code == 200
    wait_for(lambda: delivered(live, report["uid"]), what="adoption report delivered")
    channels = {d["channel"] for d in live.service.deliveries(report["uid"])}
    assert channels == {d["channel"] for d in live.service.deliveries(consultation)} == {"rss"}

    # the link is visible from both ends, and the reminder is done (no new one for the report)
    with live.db.reader() as s:
        assert item_links(s, report["uid"])["adoption_report_of"]["uid"] == consultation
        assert [x["uid"] for x in item_links(s, consultation)["adoption_reports"]] == [report["uid"]]
    with caught("consultation.closed") as got:
        with live.db.transaction() as s:
            assert check_consultations(s, at(2019, 9, 3)) == []
    assert got == []
    assert api.get("/api/compliance/reminders", headers=auth(team, "editor")).json() == []
    done = api.get("/api/compliance/reminders", params={"all": "true"}, headers=auth(team, "editor")).json()
    assert done[0]["done_by"] == report["uid"] and done[0]["done_at"]
    # the rss feed carries it
    feed = api.get("/feeds/type/consultation.rss")
    assert feed.status_code == 200 and report["title"] in feed.text


def test_adoption_report_needs_a_published_consultation(live: Runtime, api: httpx.Client, team: Team) -> None:  # noqa: F811
    draft = live.service.create_item(team.editor, sample("consult-2019-01")).uid
    r = api.post(f"/api/compliance/consultations/{draft}/adoption-report", headers=auth(team, "editor"))
    assert r.status_code == 409
    policy = release(live.service, team, sample("policy-2019-plan"))
    r = api.post(f"/api/compliance/consultations/{policy}/adoption-report", headers=auth(team, "editor"))
    assert r.status_code == 422
    r = api.post(f"/api/compliance/consultations/{policy}/adoption-report", headers=auth(team, "reviewer"))
    assert r.status_code == 403


def test_a_withdrawn_consultation_needs_no_report(live: Runtime, team: Team) -> None:  # noqa: F811
    consultation = release(live.service, team, sample("consult-2019-01"))
    with live.db.transaction() as s:
        assert len(check_consultations(s, at(2019, 9, 1))) == 1
    live.service.withdraw(team.approver, consultation, "征求意见稿有误")
    with live.db.transaction() as s:
        check_consultations(s, at(2019, 9, 2))
    with live.db.reader() as s:
        assert reminders(s) == []
        [done] = reminders(s, include_done=True)
    assert done["item"] == consultation and done["done_at"] and done["done_by"] is None


@pytest.fixture
def quiet(make_runtime: Callable[..., Runtime]) -> Runtime:
    """No executor: nothing runs the periodic checks behind the test's back."""
    return make_runtime({"rss": {"enabled": True}}, executor=False)


def test_the_check_reads_open_and_changed_consultations_only(quiet: Runtime, team: Team) -> None:
    # given a check that read up to half an hour ago, and then a consultation released after
    # it closed
    with quiet.db.transaction() as s:
        assert check_consultations(s, at(2019, 8, 1)) == []
        s.execute(update(JobMark).where(JobMark.name == MARK).values(at=utcnow() - timedelta(minutes=30)))
    late = release(quiet.service, team, sample("consult-2019-01"))  # closes 2019-08-31
    # when the next check runs, the late one is read (it changed since) and reminded
    with quiet.db.transaction() as s:
        [reminder] = check_consultations(s, at(2019, 9, 1))
    assert reminder.item_uid == late
    # a settled consultation is not read again: with its reminder gone and nothing about it
    # changed for hours, the next check does not look at it (it reads the open and the changed)
    with quiet.db.transaction() as s:
        s.execute(delete(Reminder).where(Reminder.item_uid == late))
        s.execute(update(Item).where(Item.uid == late).values(updated_at=utcnow() - timedelta(hours=2)))
        mark = s.get(JobMark, MARK)
        assert mark is not None and mark.data == {"day": "2019-09-01", "open": []}
    with quiet.db.transaction() as s:
        assert check_consultations(s, at(2019, 9, 2)) == []
    # without a mark (a fresh store), the check reads every consultation once
    with quiet.db.transaction() as s:
        s.execute(delete(JobMark).where(JobMark.name == MARK))
    with quiet.db.transaction() as s:
        assert [r.item_uid for r in check_consultations(s, at(2019, 9, 3))] == [late]


def test_a_consultation_open_at_one_check_is_reminded_when_it_closes(quiet: Runtime, team: Team) -> None:
    consultation = release(quiet.service, team, sample("consult-2019-01"))
    with quiet.db.transaction() as s:
        assert check_consultations(s, at(2019, 8, 30)) == []
        mark = s.get(JobMark, MARK)
        assert mark is not None and len(mark.data["open"]) == 1
    # hours later, the consultation has not changed: it is read because it was open
    with quiet.db.transaction() as s:
        s.execute(
            update(Item).where(Item.uid == consultation).values(updated_at=utcnow() - timedelta(hours=2))
        )
    with quiet.db.transaction() as s:
        assert check_consultations(s, at(2019, 8, 31)) == []
    with quiet.db.transaction() as s:
        # as if newer items had been seen since: only the open list brings this one back
        s.execute(update(JobMark).where(JobMark.name == MARK).values(at=utcnow()))
    with quiet.db.transaction() as s:
        assert [r.item_uid for r in check_consultations(s, at(2019, 9, 1))] == [consultation]
