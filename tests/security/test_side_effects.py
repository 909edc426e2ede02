"""Every workflow side effect is visible before it happens, attacked through the pages and the
API: an item that abolishes others shows its targets (title, 文号, 索取号) to the reviewer and
the approver, the approval states what it abolished, and an approval that carries the digest
of an older view (the page's hidden field, the API's If-Match) is a 409 that changes nothing.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from publisher.runtime import Runtime
from tests.samples import policy
from tests.security.people import Office, approve_form, etag_of, flashes, open_office


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _live(office: Office, **overrides: object) -> dict[str, object]:
    editor = office.api("editor")
    uid = editor.post("/api/items", json=policy(**overrides)).json()["uid"]
    editor.post(f"/api/items/{uid}/submit")
    office.api("reviewer").post(f"/api/items/{uid}/review")
    assert office.api("approver").post(f"/api/items/{uid}/approve").status_code == 200
    detail: dict[str, object] = office.api("ops").get(f"/api/items/{uid}").json()
    return detail


def test_targets_are_shown_before_and_stated_after_the_approval(office: Office) -> None:
    old = _live(office, title="关于旧收费标准的通知", doc_number="沪财预[2020]3号")
    editor = office.api("editor")
    notice = editor.post(
        "/api/items",
        json=policy(title="关于废止旧收费标准的通知", doc_number="沪财预[2026]30号", abolishes=[old["uid"]]),
    ).json()["uid"]
    editor.post(f"/api/items/{notice}/submit")

    # the reviewer sees the targets on the page and in the API
    page = office.page("reviewer").get(f"/app/items/{notice}").text
    for shown in ("关于旧收费标准的通知", "沪财预〔2020〕3号", str(old["index_number"])):
        assert shown in page
    [target] = office.api("reviewer").get(f"/api/items/{notice}").json()["abolishes_targets"]
    assert (target["title"], target["doc_number"], target["index_number"]) == (
        "关于旧收费标准的通知",
        "沪财预〔2020〕3号",
        old["index_number"],
    )
    office.api("reviewer").post(f"/api/items/{notice}/review")

    # the approver too, on the confirmation page, and the approval result names them
    approver = office.page("approver")
    page = approver.get(f"/app/items/{notice}/approve").text
    for shown in ("本次批准将废止", "关于旧收费标准的通知", "沪财预〔2020〕3号", str(old["index_number"])):
        assert shown in page
    assert approve_form(approver, notice).status_code == 303
    said = " ".join(flashes(approver.get(f"/app/items/{notice}").text))
    assert "同时废止" in said and "关于旧收费标准的通知" in said and str(old["index_number"]) in said
    assert office.api("ops").get(f"/api/items/{old['uid']}").json()["validity"] == "已废止"
    [event] = [
        e
        for e in office.api("auditor").get("/api/audit", params={"item": notice}).json()
        if e["action"] == "approve"
    ]
    assert event["data"]["abolishes"] == [old["uid"]]


def test_an_approval_of_an_older_view_changes_nothing(office: Office) -> None:
    first = _live(office, title="甲规定", doc_number="沪财预[2021]1号")
    second = _live(office, title="乙规定", doc_number="沪财预[2021]2号")
    editor, reviewer = office.api("editor"), office.api("reviewer")
    notice = editor.post(
        "/api/items",
        json=policy(title="关于废止甲规定的通知", doc_number="沪财预[2026]31号", abolishes=[first["uid"]]),
    ).json()["uid"]
    editor.post(f"/api/items/{notice}/submit")
    reviewer.post(f"/api/items/{notice}/review")

    # the approver looks at it (page and API) ...
    approver_page = office.page("approver")
    seen_page = etag_of(approver_page.get(f"/app/items/{notice}/approve").text)
    seen = office.api("approver").get(f"/api/items/{notice}").headers["etag"]
    assert seen.strip('"') == seen_page
    # ... meanwhile it goes back, gains a second target, and comes round again
    assert (
        office.api("approver2").post(f"/api/items/{notice}/reject", json={"reason": "补充"}).status_code
        == 200
    )
    r = editor.patch(f"/api/items/{notice}", json={"abolishes": [first["uid"], second["uid"]]})
    assert r.status_code == 200, r.text
    assert editor.post(f"/api/items/{notice}/submit").status_code == 200
    assert reviewer.post(f"/api/items/{notice}/review").status_code == 200

    # an approval of what was seen is refused, on the page and through the API
    assert approve_form(approver_page, notice, etag=seen_page).status_code == 303
    said = flashes(approver_page.get(f"/app/items/{notice}").text)
    assert any("已有变更" in f for f in said), said
    r = office.api("approver").post(f"/api/items/{notice}/approve", headers={"If-Match": seen})
    assert r.status_code == 409 and "重新审阅" in r.json()["errors"][0]["message"]
    # a form without the digest is no approval either
    assert approve_form(approver_page, notice, etag="").status_code == 303
    for uid in (first["uid"], second["uid"]):
        assert office.api("ops").get(f"/api/items/{uid}").json()["validity"] == "有效"
    assert office.api("ops").get(f"/api/items/{notice}").json()["state"] == "awaiting_approval"

    # the current view approves, and the result names both targets
    now = office.api("approver").get(f"/api/items/{notice}").headers["etag"]
    r = office.api("approver").post(f"/api/items/{notice}/approve", headers={"If-Match": now})
    assert r.status_code == 200, r.text
    assert [t["title"] for t in r.json()["abolished"]] == ["甲规定", "乙规定"]
    assert all(t["index_number"] for t in r.json()["abolished"])
