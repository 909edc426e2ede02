"""An answer to one applicant (面向申请人) never reaches a public channel: its review and its
approval are refused naming `scope`, alone or in a release group, and editing its scope to
面向社会 is refused too; the way out is the conversion path (依申请公开转主动公开), whose new
item is released like any other. Through the API. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from publisher.runtime import Runtime
from tests.samples import policy
from tests.security.people import Office, open_office

APPLICATION = {
    "number": "沪财依申〔2026〕21号",
    "received_on": "2026-10-20",
    "answered_on": "2026-11-10",
    "subject": "2025年度市级“三公”经费支出情况",
    "request": "申请公开2025年度市级“三公”经费支出情况。",
    "answer": "经查，2025年度市级“三公”经费支出合计……\n特此告知。",
    "answer_type": "予以公开",
    "applicant": "张三",
}


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _fields(r: object) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]  # type: ignore[attr-defined]


def test_an_answer_to_an_applicant_is_never_released(office: Office) -> None:
    editor, reviewer, admin = office.api("editor"), office.api("reviewer"), office.api("admin")
    answer = policy(
        title="关于张三申请的答复", disclosure="依申请公开", scope="面向申请人", release_group="g-ans"
    )
    uid = editor.post("/api/items", json=answer).json()["uid"]
    assert editor.post(f"/api/items/{uid}/submit").status_code == 200
    r = reviewer.post(f"/api/items/{uid}/review")
    assert r.status_code == 422 and _fields(r) == ["scope"] and "依申请公开转主动公开" in r.text
    # nor by re-labelling it: the scope of an answer does not change by an edit
    reviewer.post(f"/api/items/{uid}/reject", json={"reason": "不能公开"})
    r = editor.patch(f"/api/items/{uid}", json={"scope": "面向社会"})
    assert r.status_code == 422 and _fields(r) == ["scope"]
    # nor inside a release group whose other member an admin reviews and an approver approves
    other = editor.post(
        "/api/items", json=policy(release_group="g-ans", doc_number="沪财预[2026]40号")
    ).json()["uid"]
    for u in (uid, other):
        editor.post(f"/api/items/{u}/submit")
    admin.post(f"/api/items/{other}/review")
    assert admin.post(f"/api/items/{uid}/review").status_code == 422
    r = office.api("approver").post(f"/api/items/{other}/approve")
    assert r.status_code == 409  # the answer is not ready: the group never goes out without it
    ops = office.api("ops")
    for u in (uid, other):
        assert ops.get(f"/api/items/{u}").json()["versions"] == []
        assert ops.get(f"/api/items/{u}/deliveries").json() == []


def test_the_conversion_path_makes_it_public(office: Office) -> None:
    editor = office.api("editor")
    assert editor.post("/api/compliance/applications", json=APPLICATION).status_code in (200, 201)
    r = editor.post(
        f"/api/compliance/applications/{APPLICATION['number']}/convert", json={"reason": "社会普遍关注"}
    )
    assert r.status_code in (200, 201), r.text
    uid = r.json()["uid"]
    detail = office.api("ops").get(f"/api/items/{uid}").json()
    assert detail["content"]["scope"] == "面向社会"
    assert editor.post(f"/api/items/{uid}/submit").status_code == 200
    assert office.api("reviewer").post(f"/api/items/{uid}/review").status_code == 200
    r = office.api("approver").post(f"/api/items/{uid}/approve")
    assert r.status_code == 200, r.text
    assert "张三" not in str(office.api("ops").get(f"/api/items/{uid}").json()["content"])
