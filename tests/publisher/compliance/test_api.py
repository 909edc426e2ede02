"""The compliance API over real HTTP: authentication, roles, the overdue list, an item's clocks,
loading a calendar, inspection rows and running the checks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from publisher.compliance.calendar import WorkCalendar
from publisher.domain.clock import local_today
from publisher.editorial.service import Service
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.publisher.compliance.support import caught, draft
from tests.publisher.compliance.web_support import base, runtime  # noqa: F401
from tests.samples import policy

SCHEDULE_2027 = json.loads((Path(__file__).parent / "data" / "test-2027.json").read_text(encoding="utf-8"))


def auth(team: Team, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {team.tokens[who]}"}


def test_every_endpoint_needs_a_token(base: str) -> None:  # noqa: F811
    for path in (
        "/api/compliance/deadlines",
        "/api/compliance/inspection",
        "/api/compliance/reminders",
        "/api/compliance/calendar/2027",
        "/api/compliance/applications",
    ):
        r = httpx.get(base + path)
        assert r.status_code == 401, path


def test_overdue_list_and_an_items_clocks(service: Service, team: Team, base: str) -> None:  # noqa: F811
    late = draft(service, team, policy(ref="late", formed_at="2024-09-25"))
    today = local_today()
    fresh = draft(service, team, policy(ref="fresh", doc_number=None, formed_at=today.isoformat()))
    due, _ = WorkCalendar().add_working_days(today, 20)
    with httpx.Client(base_url=base, headers=auth(team, "editor")) as client:
        overdue = client.get("/api/compliance/deadlines/overdue").json()
        assert [(d["uid"], d["due_on"], d["status_label"]) for d in overdue] == [
            (late, "2024-10-28", "已逾期")
        ]
        mine = client.get(f"/api/compliance/items/{fresh}").json()
        [clock] = mine["deadlines"]
        assert (
            clock["status"] == "open"
            and clock["due_on"] == due.isoformat()
            and clock["working_days_left"] == 20
        )
        assert mine["links"] == {"application": None, "adoption_report_of": None, "adoption_reports": []}
        assert client.get("/api/compliance/items/nosuch").status_code == 404
        everything = client.get("/api/compliance/deadlines").json()
        assert {d["uid"] for d in everything} == {late, fresh}
        assert client.get("/api/compliance/deadlines", params={"status": "bogus"}).status_code == 422


def test_loading_a_calendar_needs_ops_and_recomputes(
    service: Service,
    team: Team,
    base: str,  # noqa: F811
    runtime: Runtime,  # noqa: F811
) -> None:
    uid = draft(service, team, policy(formed_at="2026-12-20"))
    with httpx.Client(base_url=base) as client:
        assert (
            client.get("/api/compliance/calendar/2027", headers=auth(team, "editor")).json()["provisional"]
            is True
        )
        r = client.put("/api/compliance/calendar/2027", json=SCHEDULE_2027, headers=auth(team, "editor"))
        assert r.status_code == 403
        r = client.put("/api/compliance/calendar/2026", json=SCHEDULE_2027, headers=auth(team, "ops"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "year"
        r = client.put("/api/compliance/calendar/2027", json=SCHEDULE_2027, headers=auth(team, "ops"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["calendar"]["source"] == "loaded" and body["calendar"]["workdays"] == ["2027-01-09"]
        assert [(c["uid"], c["was"], c["due_on"], c["provisional"]) for c in body["recomputed"]] == [
            (uid, "2027-01-18", "2027-01-15", False)
        ]


def test_inspection_rows_and_running_the_checks(service: Service, team: Team, base: str) -> None:  # noqa: F811
    draft(service, team, policy(formed_at="2024-09-25"))
    with httpx.Client(base_url=base) as client:
        rows = client.get("/api/compliance/inspection", headers=auth(team, "editor")).json()
        # the test settings enable cms and wechat: their rules apply, nothing delivered yet
        home = next(r for r in rows if r["channel"] == "cms" and r["column"] == "*")
        assert (home["status"], home["threshold"]) == ("empty", "14 天")
        assert client.post("/api/compliance/check", headers=auth(team, "editor")).status_code == 403
        with caught("deadline.at_risk", "deadline.overdue") as got:
            r = client.post("/api/compliance/check", headers=auth(team, "ops"))
        assert r.status_code == 200 and len(r.json()["deadlines"]) == 1
        # an overdue clock is alerted as overdue only, never as "at risk" (公开时限临近)
        assert sorted(n for n, _ in got) == ["deadline.overdue"]
