"""依申请转主动 over the real API: record an answered application, convert it into a linked
draft, take it through review and approval, and see it delivered and catalogued — without
its applicant anywhere public."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from publisher.runtime import Runtime
from publisher.web.app import create_app
from tests.conftest import Team
from tests.publisher.compliance.engine_support import delivered, live  # noqa: F401
from tests.publisher.web.live import serve
from tests.support import wait_for

APPLICATION: dict[str, Any] = {
    "number": "沪财依申〔2026〕15号",
    "received_on": "2026-10-20",
    "answered_on": "2026-11-10",
    "subject": "2025年度市级一般公共预算“三公”经费支出情况",
    "request": "申请公开2025年度市级“三公”经费支出情况。",
    "answer": "张三：\n经查，2025年度市级“三公”经费支出合计……\n特此告知。",
    "answer_type": "予以公开",
    "applicant": "张三",
}


@pytest.fixture
def api(live: Runtime) -> Iterator[httpx.Client]:  # noqa: F811
    with serve(create_app(live)) as url, httpx.Client(base_url=url) as client:
        yield client


def auth(team: Team, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {team.tokens[who]}"}


def test_application_converted_and_published(live: Runtime, api: httpx.Client, team: Team) -> None:  # noqa: F811
    # given an answered application recorded by an editor
    r = api.post("/api/compliance/applications", json=APPLICATION, headers=auth(team, "editor"))
    assert r.status_code == 201, r.text
    assert r.json()["applicant"] == "张三" and r.json()["converted_item"] is None
    listed = api.get("/api/compliance/applications", headers=auth(team, "editor")).json()
    assert listed["total"] == 1 and "applicant" not in listed["applications"][0]

    # when it is converted, a draft linked to it appears
    number = APPLICATION["number"]
    r = api.post(
        f"/api/compliance/applications/{number}/convert",
        headers=auth(team, "editor"),
        json={"reason": "涉及公众普遍关注的预算信息", "subject": "财政\\预算"},
    )
    assert r.status_code == 201, r.text
    item = r.json()
    uid = item["uid"]
    assert (item["state"], item["type"], item["title"]) == ("draft", "notice", APPLICATION["subject"])
    assert item["content"]["issue_date"] == "2026-11-10" and "依申请转主动" in item["content"]["keywords"]
    body = item["content"]["body_html"]
    assert number in body and "张三" not in body and "申请人：" in body
    links = api.get(f"/api/compliance/items/{uid}", headers=auth(team, "editor")).json()["links"]
    assert links["application"]["number"] == number and "applicant" not in links["application"]
    assert (
        api.get(f"/api/compliance/applications/{number}", headers=auth(team, "editor")).json()[
            "converted_item"
        ]
        == uid
    )

    # a second conversion is refused, and so is a reader without the editor role
    again = api.post(
        f"/api/compliance/applications/{number}/convert",
        headers=auth(team, "editor"),
        json={"reason": "again"},
    )
    assert again.status_code == 409
    assert (
        api.post(
            "/api/compliance/applications", json={**APPLICATION, "number": "x"}, headers=auth(team, "ops")
        ).status_code
        == 403
    )

    # then it goes through the normal workflow and is delivered and catalogued
    for action, who in (("submit", "editor"), ("review", "reviewer"), ("approve", "approver")):
        assert api.post(f"/api/items/{uid}/{action}", headers=auth(team, who)).status_code == 200
    wait_for(lambda: delivered(live, uid), what="rss delivery")
    catalogue = api.get("/catalogue.json").json()["rows"]
    assert [r["uid"] for r in catalogue] == [uid]
    everything = api.get("/catalogue.json").text + api.get(f"/items/{uid}").text
    assert "张三" not in everything
    audit = api.get("/api/audit", params={"item": uid}, headers=auth(team, "ops")).json()
    convert = next(e for e in audit if e["action"] == "convert application")
    assert convert["data"] == {"application": number} and convert["reason"] == "涉及公众普遍关注的预算信息"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"answered_on": "2026-10-01"}, "body"),
        ({"number": ""}, "number"),
        ({"received_on": "2026-13-01"}, "received_on"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_applications_name_the_field(api: httpx.Client, team: Team, patch: dict, field: str) -> None:
    r = api.post("/api/compliance/applications", json={**APPLICATION, **patch}, headers=auth(team, "editor"))
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]


def test_duplicate_number_and_unknown_application(api: httpx.Client, team: Team) -> None:
    assert (
        api.post("/api/compliance/applications", json=APPLICATION, headers=auth(team, "editor")).status_code
        == 201
    )
    dup = api.post("/api/compliance/applications", json=APPLICATION, headers=auth(team, "editor"))
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "number"
    missing = api.post(
        "/api/compliance/applications/none/convert", json={"reason": "x"}, headers=auth(team, "editor")
    )
    assert missing.status_code == 404
    bad_type = api.post(
        f"/api/compliance/applications/{APPLICATION['number']}/convert",
        json={"reason": "x", "type": "fee_change"},
        headers=auth(team, "editor"),
    )
    assert bad_type.status_code == 422 and bad_type.json()["errors"][0]["field"] == "type"
