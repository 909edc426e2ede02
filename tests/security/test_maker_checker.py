"""Maker-checker that cannot be walked around, attacked through the API and the pages.

The approver of a version is neither its author, nor anyone who edited it since the last
approval, nor anyone who reviewed it; the rule holds for every member of a release group and
for every role, admin included. Each refusal leaves the item where it was (no version, no
delivery, no approve event). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from publisher.runtime import Runtime
from tests.samples import policy
from tests.security.people import Office, approve_form, flashes, open_office, post_form
from tests.support import policy_form


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _create(client: TestClient, **overrides: object) -> str:
    r = client.post("/api/items", json=policy(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["uid"])


def _ok(client: TestClient, uid: str, action: str) -> None:
    r = client.post(f"/api/items/{uid}/{action}")
    assert r.status_code == 200, r.text


def _msg(r: httpx.Response) -> str:
    return " ".join(e["message"] for e in r.json()["errors"])


def _untouched(office: Office, uid: str) -> None:
    detail = office.api("ops").get(f"/api/items/{uid}").json()
    assert detail["state"] == "awaiting_approval" and detail["versions"] == []
    assert office.api("ops").get(f"/api/items/{uid}/deliveries").json() == []
    events = office.api("ops").get("/api/audit", params={"item": uid}).json()
    assert "approve" not in [e["action"] for e in events]


def test_an_admin_alone_never_carries_an_item_from_draft_to_published(office: Office) -> None:
    admin = office.api("admin")
    uid = _create(admin)
    _ok(admin, uid, "submit")
    _ok(admin, uid, "review")
    r = admin.post(f"/api/items/{uid}/approve")
    assert r.status_code == 403
    assert "不能批准" in _msg(r)
    _untouched(office, uid)
    # an approver who neither wrote nor reviewed it may
    assert office.api("approver").post(f"/api/items/{uid}/approve").status_code == 200


def test_an_admin_who_edited_someone_elses_draft_cannot_approve_it(office: Office) -> None:
    uid = _create(office.api("editor"))
    admin = office.api("admin")
    assert admin.patch(f"/api/items/{uid}", json={"title": "管理员改过的标题"}).status_code == 200
    _ok(office.api("editor"), uid, "submit")
    _ok(office.api("reviewer"), uid, "review")
    r = admin.post(f"/api/items/{uid}/approve")
    assert r.status_code == 403 and "修改过" in _msg(r)
    _untouched(office, uid)


def test_the_reviewer_of_a_version_never_approves_it(office: Office) -> None:
    uid = _create(office.api("editor"))
    _ok(office.api("editor"), uid, "submit")
    admin = office.api("admin")
    _ok(admin, uid, "review")
    r = admin.post(f"/api/items/{uid}/approve")
    assert r.status_code == 403 and "既审查又批准" in _msg(r)
    _untouched(office, uid)


def test_only_edits_since_the_last_approval_make_a_maker(office: Office) -> None:
    # version 1: the admin edits the editor's draft, another approver approves it
    editor, admin = office.api("editor"), office.api("admin")
    uid = _create(editor)
    assert admin.patch(f"/api/items/{uid}", json={"title": "管理员改过的标题"}).status_code == 200
    _ok(editor, uid, "submit")
    _ok(office.api("reviewer"), uid, "review")
    _ok(office.api("approver"), uid, "approve")
    # version 2: a revision by the admin is theirs again
    assert admin.patch(f"/api/items/{uid}", json={"title": "管理员的修订"}).status_code == 200
    _ok(editor, uid, "submit")
    _ok(office.api("reviewer"), uid, "review")
    assert admin.post(f"/api/items/{uid}/approve").status_code == 403
    _ok(office.api("approver2"), uid, "approve")
    # version 3: written by the editor alone; the admin's edits of earlier versions do not count
    assert editor.patch(f"/api/items/{uid}", json={"title": "编辑的修订"}).status_code == 200
    _ok(editor, uid, "submit")
    _ok(office.api("reviewer"), uid, "review")
    r = admin.post(f"/api/items/{uid}/approve")
    assert r.status_code == 200, r.text
    assert len(office.api("ops").get(f"/api/items/{uid}").json()["versions"]) == 3


def test_a_group_is_refused_when_the_approver_authored_another_member(office: Office) -> None:
    editor, admin = office.api("editor"), office.api("admin")
    mine = _create(editor, release_group="g-2026-12", title="关于财政资金管理的通知")
    theirs = _create(
        admin, release_group="g-2026-12", title="关于预算执行的通知", doc_number="沪财预[2026]13号"
    )
    for uid, author in ((mine, editor), (theirs, admin)):
        _ok(author, uid, "submit")
        _ok(office.api("reviewer"), uid, "review")
    # the admin clicks approve on the member they did not write: the group is refused whole
    r = admin.post(f"/api/items/{mine}/approve")
    assert r.status_code == 403 and "关于预算执行的通知" in _msg(r)
    _untouched(office, mine)
    _untouched(office, theirs)
    # an approver who wrote and reviewed none of the members may
    r = office.api("approver").post(f"/api/items/{theirs}/approve")
    assert r.status_code == 200, r.text
    assert set(r.json()["released"]) == {mine, theirs}


def test_a_group_is_refused_when_the_approver_reviewed_another_member(office: Office) -> None:
    editor, admin = office.api("editor"), office.api("admin")
    a = _create(editor, release_group="g-2", title="甲通知")
    b = _create(editor, release_group="g-2", title="乙通知", doc_number="沪财预[2026]14号")
    for uid in (a, b):
        _ok(editor, uid, "submit")
    _ok(office.api("reviewer"), a, "review")
    _ok(admin, b, "review")
    r = admin.post(f"/api/items/{a}/approve")
    assert r.status_code == 403 and "乙通知" in _msg(r)
    _untouched(office, a)


def test_on_the_pages_an_author_holding_approver_rights_cannot_approve(office: Office) -> None:
    # the admin holds the approver's rights (the role check passes); they wrote the item
    admin = office.page("admin")
    r = post_form(admin, "/app/items/new", policy_form(), "/app/items/new")
    assert r.status_code == 303, r.text
    uid = str(r.headers["location"]).rsplit("/", 1)[1]
    assert post_form(admin, f"/app/items/{uid}/submit").status_code == 303
    assert post_form(office.page("reviewer"), f"/app/items/{uid}/review").status_code == 303

    r = approve_form(admin, uid)
    assert r.status_code == 303
    page = admin.get(f"/app/items/{uid}").text
    assert any("不能批准自己起草或修改过的信息" in f for f in flashes(page)), flashes(page)
    _untouched(office, uid)

    # another approver, through the same form, succeeds
    approver = office.page("approver")
    assert approve_form(approver, uid).status_code == 303
    assert office.api("ops").get(f"/api/items/{uid}").json()["state"] == "published"
