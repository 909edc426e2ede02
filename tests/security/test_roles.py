"""三员 role separation, attacked through the API and the pages: the permission table
(publisher/domain/permissions.py) is what the services enforce, the three administrators
hold only their own powers, the auditor changes nothing, and no role, admin included,
carries an item from draft to published alone. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from publisher.domain.item import Role
from publisher.domain.permissions import ROLE_PERMISSIONS, Permission
from publisher.runtime import Runtime
from tests.samples import policy
from tests.security.people import Office, flashes, open_office, post_form

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def test_the_table_gives_each_administrator_only_their_own_powers() -> None:
    content = {Permission.ITEM_EDIT, Permission.ITEM_REVIEW, Permission.ITEM_APPROVE}
    assert not ROLE_PERMISSIONS[Role.SYSADMIN] & (content | {Permission.USER_MANAGE})
    assert ROLE_PERMISSIONS[Role.SECADMIN] == {Permission.USER_MANAGE}
    assert ROLE_PERMISSIONS[Role.AUDITOR] <= {Permission.AUDIT_READ, Permission.DELIVERY_READ}
    # whoever manages accounts could mint the second pair of eyes: no content role may
    for role, held in ROLE_PERMISSIONS.items():
        if Permission.USER_MANAGE in held:
            assert not held & content, role


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_no_role_carries_an_item_from_draft_to_published_alone(office: Office, role: str) -> None:
    me = office.api(role)
    created = me.post("/api/items", json=policy())
    if created.status_code == 403:
        # it may not even write one: take someone else's draft as far as this role can
        uid = office.api("editor").post("/api/items", json=policy()).json()["uid"]
        steps = [me.patch(f"/api/items/{uid}", json={"title": "改过的标题"})]
    else:
        assert created.status_code == 201, created.text
        uid = created.json()["uid"]
        steps = []
    for action in ("submit", "review", "approve"):
        steps.append(me.post(f"/api/items/{uid}/{action}"))
    assert any(r.status_code == 403 for r in steps), [r.status_code for r in steps]
    detail = office.api("ops").get(f"/api/items/{uid}").json()
    assert detail["state"] != "published" and detail["versions"] == []


def test_the_auditor_reads_the_audit_log_and_changes_nothing(office: Office) -> None:
    # every write endpoint with a real body, per role, is in tests/system/test_authorization.py;
    # here the auditor walks the whole OpenAPI document and leaves no trace
    auditor = office.api("auditor")
    assert auditor.get("/api/audit/verify").status_code == 200
    assert auditor.get("/api/audit").status_code == 200
    assert auditor.get("/api/deliveries").status_code == 200
    uid = office.api("editor").post("/api/items", json=policy()).json()["uid"]
    doc = office.app.openapi()
    refused = 0
    for path, operations in doc["paths"].items():
        for method in operations:
            if not path.startswith("/api/") or method not in WRITES or path == "/api/check":
                continue
            concrete = (
                path.replace("{uid}", uid)
                .replace("{channel}", "rss")
                .replace("{delivery_id}", "1")
                .replace("{year}", "2026")
                .replace("{number}", "A-2026-001")
                .replace("{entry_id}", "1")
                .replace("{name}", "editor")
            )
            r = auditor.request(method.upper(), concrete, json={})
            assert r.status_code in (403, 422), (method, path, r.status_code, r.text)
            refused += 1
    assert refused > 20
    events = office.api("ops").get("/api/audit").json()
    assert all(e["actor"] != "auditor" for e in events)


def test_the_sysadmin_pauses_channels_but_writes_no_content(office: Office) -> None:
    sysadmin = office.api("sysadmin")
    assert (
        sysadmin.post("/api/channels/rss/pause", json={"reason": "维护", "confirm": "yes"}).json()["paused"]
        is True
    )
    assert sysadmin.post("/api/channels/rss/resume").json()["paused"] is False
    assert sysadmin.post("/api/items", json=policy()).status_code == 403
    uid = office.api("editor").post("/api/items", json=policy()).json()["uid"]
    assert sysadmin.patch(f"/api/items/{uid}", json={"title": "x" * 10}).status_code == 403
    assert sysadmin.post(f"/api/items/{uid}/submit").status_code == 403


def test_the_secadmin_touches_neither_content_nor_channels(office: Office) -> None:
    secadmin = office.api("secadmin")
    assert secadmin.post("/api/items", json=policy()).status_code == 403
    assert (
        secadmin.post("/api/channels/rss/pause", json={"reason": "维护", "confirm": "yes"}).status_code == 403
    )
    assert secadmin.post("/api/channels/rss/replay-failed", json={}).status_code == 403
    assert office.api("ops").get("/api/channels").json()[0]["paused"] is False


def test_a_page_post_is_refused_by_the_service_not_only_by_the_button(office: Office) -> None:
    # an editor forges the pause form (the page hides the button): the delivery service refuses it
    editor = office.page("editor")
    r = post_form(editor, "/app/ops/channels/rss/pause", {"reason": "伪造", "confirm": "yes"}, "/app/ops")
    assert r.status_code == 303
    assert any("需要角色" in f for f in flashes(editor.get("/app/ops").text))
    assert office.api("ops").get("/api/channels").json()[0]["paused"] is False
    # the system administrator's own form works, and the pause is audited under their name
    sysadmin = office.page("sysadmin")
    assert (
        post_form(
            sysadmin, "/app/ops/channels/rss/pause", {"reason": "维护", "confirm": "yes"}, "/app/ops"
        ).status_code
        == 303
    )
    assert office.api("ops").get("/api/channels").json()[0]["paused"] is True
    pauses = [e for e in office.api("auditor").get("/api/audit").json() if e["action"] == "channel.pause"]
    assert [e["actor"] for e in pauses] == ["sysadmin"]
