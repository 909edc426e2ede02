"""The HTTP API contract (issue #2), on SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from sqlalchemy import func, select

from publisher.editorial.service import Service
from publisher.runtime import Runtime
from publisher.store.models import AuditEvent, Delivery, Item
from publisher.web import create_app
from tests.conftest import Team
from tests.samples import policy, sample


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    rt = make_runtime(executor=False)
    # these tests are about the API: the channels (enabled, without credentials) are routed
    # but their pre-flight is not what is under test
    rt.service.preflight = None
    return rt


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def h(team: Team, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {team.tokens[who]}"}


def stored(service: Service) -> dict[str, int]:
    with service.db.reader() as s:
        return {
            "items": s.execute(select(func.count(Item.id))).scalar_one(),
            "deliveries": s.execute(select(func.count(Delivery.id))).scalar_one(),
            "audit": s.execute(select(func.count(AuditEvent.id))).scalar_one(),
        }


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def create(client: TestClient, team: Team, data: dict[str, Any] | None = None, who: str = "editor") -> str:
    r = client.post("/api/items", json=data or policy(), headers=h(team, who))
    assert r.status_code == 201, r.text
    return str(r.json()["uid"])


def to_awaiting(
    client: TestClient, team: Team, data: dict[str, Any] | None = None, who: str = "editor"
) -> str:
    uid = create(client, team, data, who)
    assert client.post(f"/api/items/{uid}/submit", headers=h(team, who)).status_code == 200
    assert client.post(f"/api/items/{uid}/review", headers=h(team, "reviewer")).status_code == 200
    return uid


# -- happy paths -----------------------------------------------------------------------------------
def test_healthz_needs_no_token(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_item_lifecycle_through_every_endpoint(client: TestClient, team: Team) -> None:
    # given an editor creates an item from fixture-shaped JSON
    r = client.post("/api/items", json=policy(ref="p-1"), headers=h(team, "editor"))
    assert r.status_code == 201
    uid = r.json()["uid"]
    assert r.headers["location"] == f"/api/items/{uid}"
    assert r.json()["state"] == "draft" and r.json()["doc_number"] == "沪财预〔2026〕12号"

    # when it is edited, read back and listed
    r = client.patch(
        f"/api/items/{uid}", json={"title": "关于规范财政资金管理的通知（修订）"}, headers=h(team, "editor")
    )
    assert r.status_code == 200 and r.json()["title"] == "关于规范财政资金管理的通知（修订）"
    detail = client.get(f"/api/items/{uid}", headers=h(team, "reviewer")).json()
    assert detail["uid"] == uid and detail["versions"] == [] and detail["delivery_status"] == "draft"
    listing = client.get(
        "/api/items", params={"type": "policy", "state": "draft", "q": "修订"}, headers=h(team, "ops")
    )
    assert listing.status_code == 200
    assert listing.json()["total"] == 1 and [i["uid"] for i in listing.json()["items"]] == [uid]
    assert (
        client.get("/api/items", params={"state": "published"}, headers=h(team, "ops")).json()["total"] == 0
    )

    # then submit → review → approve publishes it, with one queued delivery per routed channel
    assert client.post(f"/api/items/{uid}/submit", headers=h(team, "editor")).json()["state"] == "in_review"
    assert (
        client.post(f"/api/items/{uid}/review", headers=h(team, "reviewer")).json()["state"]
        == "awaiting_approval"
    )
    r = client.post(f"/api/items/{uid}/approve", headers=h(team, "approver"))
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "published" and body["released"] == [uid]
    assert body["index_number"].startswith("AB1900010-") and [v["number"] for v in body["versions"]] == [1]
    assert body["delivery_status"] == "pending"
    assert body["channels"] == {
        "rss": "queued",
        "cms": "queued",
        "wechat": "queued",
        "cityplatform": "queued",
    }

    rows = client.get(f"/api/items/{uid}/deliveries", headers=h(team, "ops")).json()
    assert sorted(d["channel"] for d in rows) == ["cityplatform", "cms", "rss", "wechat"]
    for d in rows:
        assert {
            "id",
            "channel",
            "operation",
            "version",
            "state",
            "attempts",
            "external_id",
            "url",
            "last_error",
        } <= d.keys()
        assert (d["operation"], d["version"], d["state"], d["attempts"]) == ("publish", 1, "queued", 0)

    # abolish: validity changes, a new version, an update per channel
    r = client.post(
        f"/api/items/{uid}/abolish",
        json={"date": "2026-12-31", "validity": "已失效"},
        headers=h(team, "approver"),
    )
    assert r.status_code == 200
    assert r.json()["validity"] == "已失效" and r.json()["validity_changed_on"] == "2026-12-31"
    ops = [
        (d["operation"], d["version"])
        for d in client.get(f"/api/items/{uid}/deliveries", headers=h(team, "ops")).json()
    ]
    assert ops.count(("update", 2)) == 4

    # withdraw: every channel gets a withdrawal
    r = client.post(f"/api/items/{uid}/withdraw", json={"reason": "内容有误"}, headers=h(team, "approver"))
    assert (
        r.status_code == 200
        and r.json()["state"] == "withdrawn"
        and r.json()["withdraw_reason"] == "内容有误"
    )
    rows = client.get(f"/api/items/{uid}/deliveries", headers=h(team, "ops")).json()
    assert sorted(d["channel"] for d in rows if d["operation"] == "withdraw") == [
        "cityplatform",
        "cms",
        "rss",
        "wechat",
    ]

    events = client.get("/api/audit", params={"item": uid}, headers=h(team, "ops")).json()
    assert [e["action"] for e in events] == [
        "create",
        "edit",
        "submit",
        "review",
        "approve",
        "validity",
        "withdraw",
    ]
    assert [e["actor"] for e in events][-1] == "approver" and events[-1]["reason"] == "内容有误"


def test_reject_with_reason_returns_to_draft(client: TestClient, team: Team) -> None:
    uid = to_awaiting(client, team)
    r = client.post(f"/api/items/{uid}/reject", json={"reason": "文号有误"}, headers=h(team, "approver"))
    assert r.status_code == 200
    assert r.json()["state"] == "draft" and r.json()["reject_reason"] == "文号有误"


def test_release_group_is_approved_together(client: TestClient, team: Team) -> None:
    p = to_awaiting(client, team, sample("policy-2019-plan"))
    i = to_awaiting(client, team, sample("interp-2019-plan"))
    r = client.post(f"/api/items/{i}/approve", headers=h(team, "approver"))
    assert r.status_code == 200 and sorted(r.json()["released"]) == sorted([p, i])
    assert client.get(f"/api/items/{p}", headers=h(team, "editor")).json()["state"] == "published"


def test_list_paginates_and_filters_by_validity(client: TestClient, team: Team) -> None:
    for n in range(3):
        create(client, team, policy(title=f"通知{n}"))
    r = client.get("/api/items", params={"limit": 2, "offset": 0}, headers=h(team, "editor")).json()
    assert r["total"] == 3 and len(r["items"]) == 2 and (r["limit"], r["offset"]) == (2, 0)
    r = client.get("/api/items", params={"limit": 2, "offset": 2}, headers=h(team, "editor")).json()
    assert len(r["items"]) == 1
    assert (
        client.get("/api/items", params={"validity": "已废止"}, headers=h(team, "editor")).json()["total"]
        == 0
    )


def test_audit_verify_endpoint_for_ops(client: TestClient, team: Team) -> None:
    create(client, team)
    r = client.get("/api/audit/verify", headers=h(team, "ops"))
    # one event per account the team fixture added (user.add), then the item's create
    checked = len(team.tokens) + 1
    assert r.status_code == 200 and r.json() == {"checked": checked, "intact": True, "problems": []}
    r = client.get("/api/audit/verify", headers=h(team, "editor"))
    assert r.status_code == 403 and fields(r) == ["actor"]


# -- authentication and roles ------------------------------------------------------------------------
ENDPOINTS = [
    ("POST", "/api/items", policy()),
    ("GET", "/api/items", None),
    ("GET", "/api/items/UID", None),
    ("PATCH", "/api/items/UID", {"title": "x"}),
    ("POST", "/api/items/UID/submit", None),
    ("POST", "/api/items/UID/review", None),
    ("POST", "/api/items/UID/approve", None),
    ("POST", "/api/items/UID/reject", {"reason": "x"}),
    ("POST", "/api/items/UID/abolish", {"date": "2026-12-01"}),
    ("POST", "/api/items/UID/withdraw", {"reason": "x"}),
    ("GET", "/api/items/UID/deliveries", None),
    ("GET", "/api/audit", None),
    ("GET", "/api/audit/verify", None),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer pub_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_every_api_endpoint_needs_a_valid_token(
    client: TestClient, service: Service, team: Team, method: str, path: str, body: Any, header: str | None
) -> None:
    uid = to_awaiting(client, team)
    before = stored(service)
    headers = {"Authorization": header} if header else {}
    r = client.request(method, path.replace("UID", uid), json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert fields(r) == ["authorization"] and " / " in r.json()["errors"][0]["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert stored(service) == before


def test_authentication_comes_before_body_validation(client: TestClient, service: Service) -> None:
    r = client.post("/api/items", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and fields(r) == ["authorization"]


@pytest.mark.parametrize(
    "who,action",
    [
        ("reviewer", "create"),
        ("editor", "review"),
        ("editor", "approve"),
        ("reviewer", "approve"),
        ("ops", "approve"),
        ("editor", "withdraw"),
        ("reviewer", "abolish"),
    ],
)
def test_wrong_role_is_403_and_changes_nothing(
    client: TestClient, service: Service, team: Team, who: str, action: str
) -> None:
    uid = to_awaiting(client, team)
    if action in ("withdraw", "abolish"):
        assert client.post(f"/api/items/{uid}/approve", headers=h(team, "approver")).status_code == 200
    before = stored(service)
    if action == "create":
        r = client.post("/api/items", json=policy(), headers=h(team, who))
    else:
        body = {"withdraw": {"reason": "x"}, "abolish": {"date": "2026-12-01"}}.get(action)
        r = client.post(f"/api/items/{uid}/{action}", json=body, headers=h(team, who))
    assert r.status_code == 403, r.text
    assert fields(r) == ["actor"] and "role" in r.json()["errors"][0]["message"]
    assert stored(service) == before


def test_author_never_approves_own_item(client: TestClient, service: Service, team: Team) -> None:
    # an admin may approve in general, but not an item they drafted
    uid = to_awaiting(client, team, who="admin")
    before = stored(service)
    r = client.post(f"/api/items/{uid}/approve", headers=h(team, "admin"))
    assert r.status_code == 403 and "自己" in r.json()["errors"][0]["message"]
    assert stored(service) == before
    assert client.get(f"/api/items/{uid}", headers=h(team, "admin")).json()["state"] == "awaiting_approval"


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content,field",
    [
        (b'{"type": "policy", "title": ', "body"),  # malformed JSON
        (b"[1, 2]", "body"),  # JSON, but not an object
        (b'"just a string"', "body"),
    ],
)
def test_malformed_body_is_422_naming_the_body(
    client: TestClient, service: Service, team: Team, content: bytes, field: str
) -> None:
    r = client.post(
        "/api/items", content=content, headers={**h(team, "editor"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert fields(r) == [field] and " / " in r.json()["errors"][0]["message"]
    assert stored(service)["items"] == 0


@pytest.mark.parametrize(
    "overrides,field,words",
    [
        ({"doc_number": "沪财预2026第十二号"}, "doc_number", "文号"),
        ({"title": None}, "title", "必填"),
        ({"issue_date": "2026/11/20"}, "issue_date", "YYYY-MM-DD"),
        ({"colour": "红"}, "colour", "不允许"),
        ({"type": "memo"}, "type", "允许"),
        ({"type": "procurement_result"}, "procurement", "采购"),
        (
            {"procurement": {"project_number": "x"}, "type": "procurement_result"},
            "procurement.purchaser",
            "必填",
        ),
        ({"title": "标\x00题"}, "title", "无效字符"),
        # a URL no channel could fetch is refused at the door, never a 500 in a pre-flight
        ({"attachments": [{"title": "附件", "url": "http://[::1/a.pdf"}]}, "attachments.0.url", "无法解析"),
        ({"cover_url": "http://xn--/c.jpg"}, "cover_url", "主机名无效"),
    ],
)
def test_bad_item_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, service: Service, team: Team, overrides: dict[str, Any], field: str, words: str
) -> None:
    data = policy(**overrides)
    if overrides.get("title", "") is None:
        del data["title"]
    before = stored(service)  # the team's accounts are audit events already
    r = client.post("/api/items", json=data, headers=h(team, "editor"))
    assert r.status_code == 422, r.text
    assert field in fields(r)
    entry = next(e for e in r.json()["errors"] if e["field"] == field)
    assert words in entry["message"] and " / " in entry["message"]
    assert stored(service) == before == {**before, "items": 0, "deliveries": 0}


def test_lone_surrogate_in_body_is_422(client: TestClient, service: Service, team: Team) -> None:
    body = b'{"type": "policy", "title": "\\ud800", "issue_date": "2026-11-20", "subject": "x"}'
    r = client.post(
        "/api/items", content=body, headers={**h(team, "editor"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and fields(r) == ["title"]
    assert stored(service)["items"] == 0


def test_bad_patch_is_422_and_keeps_the_item(client: TestClient, team: Team) -> None:
    uid = create(client, team)
    r = client.patch(
        f"/api/items/{uid}", json={"issue_date": "20-11-2026", "shape": 1}, headers=h(team, "editor")
    )
    assert r.status_code == 422 and sorted(fields(r)) == ["issue_date", "shape"]
    assert client.get(f"/api/items/{uid}", headers=h(team, "editor")).json()["issue_date"] == "2026-11-20"


@pytest.mark.parametrize(
    "action,body,field",
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("reject", {"reason": "x", "extra": 1}, "extra"),
        ("reject", None, "body"),
        ("abolish", {"date": "2026/12/01"}, "date"),
        ("abolish", {"date": "2026-12-01", "validity": "有效"}, "validity"),
        ("abolish", {"date": "2026-12-01", "by": "no-such-item"}, "by"),
        ("withdraw", {"reason": 5}, "reason"),
    ],
)
def test_bad_action_body_is_422_naming_the_field(
    client: TestClient, service: Service, team: Team, action: str, body: Any, field: str
) -> None:
    uid = to_awaiting(client, team)
    if action != "reject":
        client.post(f"/api/items/{uid}/approve", headers=h(team, "approver"))
    before = stored(service)
    r = client.post(f"/api/items/{uid}/{action}", json=body, headers=h(team, "approver"))
    assert r.status_code == 422, r.text
    assert fields(r) == [field]
    assert stored(service) == before


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"type": "memo"}, "type"),
        ({"state": "done"}, "state"),
        ({"q": "a\x00b"}, "q"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_query_is_422_naming_the_parameter(
    client: TestClient, team: Team, params: dict[str, Any], field: str
) -> None:
    r = client.get("/api/items", params=params, headers=h(team, "editor"))
    assert r.status_code == 422 and fields(r) == [field]


def test_wrong_transition_is_409_naming_the_current_state(
    client: TestClient, service: Service, team: Team
) -> None:
    uid = create(client, team)
    client.post(f"/api/items/{uid}/submit", headers=h(team, "editor"))
    before = stored(service)
    r = client.post(f"/api/items/{uid}/submit", headers=h(team, "editor"))
    assert r.status_code == 409
    assert r.json()["current_state"] == "in_review"
    assert fields(r) == ["state"] and "in_review" in r.json()["errors"][0]["message"]
    r = client.post(f"/api/items/{uid}/approve", headers=h(team, "approver"))
    assert r.status_code == 409 and r.json()["current_state"] == "in_review"
    assert stored(service) == before


def test_unknown_item_and_path_are_404_in_our_shape(client: TestClient, team: Team) -> None:
    r = client.get("/api/items/01nosuchitem", headers=h(team, "editor"))
    assert r.status_code == 404 and fields(r) == ["path"]
    r = client.post("/api/items/01nosuchitem/submit", headers=h(team, "editor"))
    assert r.status_code == 404
    r = client.get("/api/nothing-here", headers=h(team, "editor"))
    assert r.status_code == 404 and "errors" in r.json()
    r = client.delete("/api/items", headers=h(team, "editor"))
    assert r.status_code == 405 and fields(r) == ["method"]


def test_unexpected_error_is_500_in_our_shape(runtime: Runtime) -> None:
    app = create_app(runtime)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert fields(r) == ["server"] and "a bug" not in r.text


# -- the OpenAPI document ----------------------------------------------------------------------------
def test_openapi_document_describes_bodies_and_error_shape(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's default 422 shape is never advertised
    assert schemas["ErrorBody"]["required"] == ["errors"]
    assert "current_state" in schemas["ConflictBody"]["properties"]
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            assert {"401", "403", "422"} <= op["responses"].keys(), (method, path)
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorBody"
            )
            assert op.get("security") == [{"token": []}], (method, path)
    reject = doc["paths"]["/api/items/{uid}/reject"]["post"]
    assert reject["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ReasonBody")
    assert "date" in schemas["AbolishBody"]["properties"]
    create_op = doc["paths"]["/api/items"]["post"]
    assert "policy" in create_op["requestBody"]["content"]["application/json"]["examples"]
    assert "409" in doc["paths"]["/api/items/{uid}/approve"]["post"]["responses"]


def test_body_that_is_not_utf8_is_422(client: TestClient, service: Service, team: Team) -> None:
    r = client.post(
        "/api/items", content=b"\xff\xfe{", headers={**h(team, "editor"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and fields(r) == ["body"]
    assert stored(service)["items"] == 0


def test_method_not_allowed_lists_every_method_of_the_path(client: TestClient, team: Team) -> None:
    r = client.put("/api/items", headers=h(team, "editor"))
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
