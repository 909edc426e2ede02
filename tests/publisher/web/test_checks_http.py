"""The content checks over HTTP: the API (draft and item check, accepting a warning, the
dictionary and register), the pages (the list on the item, review and preview pages, the
accept form, the editor's live endpoint), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import select

from publisher.runtime import Runtime
from publisher.settings import ChannelSection
from publisher.store.models import Item
from publisher.web import create_app
from tests.publisher.web.pages.conftest import PASSWORD, approve, csrf_of, log_in, policy_form
from tests.samples import policy


@dataclass
class Http:
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def page(self, who: str) -> TestClient:
        return log_in(TestClient(self.client.app), who)


@pytest.fixture
def http(make_runtime: Callable[..., Runtime]) -> Iterator[Http]:
    rt = make_runtime(channels={"rss": {"enabled": True}}, executor=False)
    tokens = {}
    for name in ("editor", "reviewer", "approver", "ops"):
        tokens[name] = rt.service.add_user(name, name, PASSWORD)[1]
    with TestClient(create_app(rt)) as client:
        yield Http(rt, client, tokens)


def to_review(http: Http, data: dict[str, Any], until: str = "awaiting_approval") -> str:
    c = http.client
    r = c.post("/api/items", json=data, headers=http.h("editor"))
    assert r.status_code == 201, r.text
    uid = str(r.json()["uid"])
    assert c.post(f"/api/items/{uid}/submit", headers=http.h("editor")).status_code == 200
    if until == "awaiting_approval":
        assert c.post(f"/api/items/{uid}/review", headers=http.h("reviewer")).status_code == 200
    return uid


def test_the_draft_endpoint_checks_what_is_typed_without_saving(http: Http) -> None:
    body = {"type": "policy", "title": "扫黑 险恶", "body_html": "<p>联系人 13800138000</p>"}
    r = http.client.post("/api/check", json=body, headers=http.h("editor"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] is False and report["blocking"] == 2
    by_rule = {p["rule"]: p for p in report["problems"]}
    assert set(by_rule) == {"wording.wrong", "personal.mobile"}
    wrong = by_rule["wording.wrong"]
    assert (wrong["field"], wrong["label"], wrong["start"], wrong["end"], wrong["suggestion"]) == (
        "title",
        "信息名称",
        0,
        5,
        "扫黑除恶",
    )
    assert wrong["source"] == "content" and wrong["severity"] == "block"
    assert http.client.get("/api/items", headers=http.h("editor")).json()["total"] == 0
    # bad input is a 422 naming the field, never a 500
    bad = http.client.post("/api/check", json={"title": "a\x00b"}, headers=http.h("editor"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "title"
    assert http.client.post("/api/check", json={"title": "x"}).status_code == 401


def test_a_valid_draft_also_gets_its_channels_pre_flight(http: Http) -> None:
    long_title = "关于" + "进一步规范" * 8 + "的通知"
    http.runtime.settings.channels["wechat"] = ChannelSection(enabled=True)  # a channel that judges titles
    try:
        r = http.client.post("/api/check", json=policy(title=long_title), headers=http.h("editor"))
    finally:
        del http.runtime.settings.channels["wechat"]
    channel = [p for p in r.json()["problems"] if p["source"] == "channel"]
    assert channel and all(p["rule"] == "channel.wechat" and p["label"].startswith("公众号") for p in channel)


def test_item_check_accept_and_approve_over_the_api(http: Http) -> None:
    c = http.client
    uid = to_review(http, policy(body_html="<p>推进一带一路战略。</p>"))
    report = c.get(f"/api/items/{uid}/check", headers=http.h("approver")).json()
    [warn] = report["problems"]
    assert report["item"]["uid"] == uid and warn["severity"] == "warn" and warn["accepted"] is None
    refused = c.post(f"/api/items/{uid}/approve", headers=http.h("approver"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["rule"] == "wording.normative"
    forbidden = c.post(
        f"/api/items/{uid}/check/accept", json={"key": warn["key"], "reason": "x"}, headers=http.h("editor")
    )
    assert forbidden.status_code == 403
    missing = c.post(f"/api/items/{uid}/check/accept", json={"key": warn["key"]}, headers=http.h("reviewer"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    ok = c.post(
        f"/api/items/{uid}/check/accept",
        json={"key": warn["key"], "reason": "引用原文"},
        headers=http.h("reviewer"),
    )
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert ok.json()["problems"][0]["accepted"]["by"] == "reviewer"
    assert c.post(f"/api/items/{uid}/approve", headers=http.h("approver")).status_code == 200
    assert c.get("/api/items/01nosuchitem0000000000000a/check", headers=http.h("editor")).status_code == 404


def test_ops_maintain_the_dictionary_and_register_over_the_api(http: Http) -> None:
    c = http.client
    r = c.post(
        "/api/checks/words", json={"term": "示范禁用词", "kind": "forbidden"}, headers=http.h("editor")
    )
    assert r.status_code == 403
    r = c.post("/api/checks/words", json={"term": "示范禁用词", "kind": "forbidden"}, headers=http.h("ops"))
    assert r.status_code == 201 and r.json()["version"] == 1
    r = c.post("/api/checks/words", json={"term": "x", "kind": "bogus"}, headers=http.h("ops"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    words = c.get("/api/checks/words?starter=true", headers=http.h("editor")).json()
    assert words["version"] == 1 and [e["term"] for e in words["entries"]] == ["示范禁用词"]
    assert words["starter_count"] == len(words["starter"]) > 100
    body = {"type": "policy", "body_html": "<p>示范 禁用词</p>"}
    assert c.post("/api/check", json=body, headers=http.h("editor")).json()["problems"][0]["rule"] == (
        "wording.forbidden"
    )
    assert (
        c.post("/api/checks/words/remove", json={"term": "示范禁用词"}, headers=http.h("ops")).status_code
        == 200
    )
    assert c.post("/api/check", json=body, headers=http.h("editor")).json()["problems"] == []

    r = c.post(
        "/api/checks/people",
        json={"name": "王明", "title": "局长", "valid_from": "2020-01-01", "valid_to": "2022-12-31"},
        headers=http.h("ops"),
    )
    assert r.status_code == 201
    entry = r.json()["id"]
    draft = {"type": "policy", "issue_date": "2026-11-20", "body_html": "<p>局长王明出席。</p>"}
    [p] = c.post("/api/check", json=draft, headers=http.h("editor")).json()["problems"]
    assert p["rule"] == "register.title"
    people = c.get("/api/checks/people", headers=http.h("editor")).json()
    assert people["version"] == 1 and people["entries"][0]["name"] == "王明"
    assert c.delete(f"/api/checks/people/{entry}", headers=http.h("ops")).status_code == 200
    assert c.delete(f"/api/checks/people/{entry}", headers=http.h("ops")).status_code == 404
    assert c.post("/api/check", json=draft, headers=http.h("editor")).json()["problems"] == []


def test_the_item_and_preview_pages_show_the_list_and_the_reviewer_accepts_there(http: Http) -> None:
    uid = to_review(http, policy(body_html="<p>推进一带一路战略。</p><p>再接再励。</p>"), until="in_review")
    reviewer = http.page("reviewer")
    page = reviewer.get(f"/app/items/{uid}")
    soup = BeautifulSoup(page.text, "html.parser")
    items = soup.select("#problems li.problem")
    assert [li["data-rule"] for li in items] == ["wording.wrong", "wording.normative"]
    assert "须改正" in items[0].get_text() and "再接再厉" in items[0].get_text()
    assert items[0].select_one("a")["href"] == f"/app/items/{uid}/edit#f-body_html"
    assert items[0].select_one("form") is None  # a block has no accept form
    form = items[1].select_one("form.accept")
    assert form is not None and form["action"] == f"/app/checks/items/{uid}/accept"
    assert soup.select_one('script[src="/static/checks.js"]') is not None
    assert not soup.select("script:not([src])") and "onclick" not in page.text  # CSP-ready

    r = reviewer.post(
        form["action"],
        data={"csrf": csrf_of(page.text), "key": items[1]["data-key"], "reason": "引用原文"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = BeautifulSoup(reviewer.get(f"/app/items/{uid}").text, "html.parser")
    accepted = after.select_one(f'#problems li[data-key="{items[1]["data-key"]}"]')
    assert accepted is not None and "引用原文" in accepted.get_text()
    preview = BeautifulSoup(reviewer.get(f"/app/items/{uid}/preview").text, "html.parser")
    assert [li["data-rule"] for li in preview.select("#problems li.problem")] == [
        "wording.wrong",
        "wording.normative",
    ]

    # an editor sees the list but no accept form
    editor = BeautifulSoup(http.page("editor").get(f"/app/items/{uid}").text, "html.parser")
    assert editor.select("#problems li.problem") and not editor.select("#problems form.accept")


def test_a_refused_approval_names_the_field_in_chinese(http: Http) -> None:
    uid = to_review(http, policy(body_html="<p>机密★1年</p>"))
    approver = http.page("approver")
    approve(approver, uid)
    html = approver.get(f"/app/items/{uid}").text
    errors = [e.get_text(strip=True) for e in BeautifulSoup(html, "html.parser").select(".flash.error")]
    assert errors and errors[0].startswith("《关于进一步规范财政资金管理的通知》正文：含密级标志“机密★1年”")
    assert "body_html" not in errors[0] and "group[" not in html


def test_the_editor_posts_its_form_as_it_types(http: Http) -> None:
    editor = http.page("editor")
    page = editor.get("/app/items/new")
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#editor") is not None and soup.select_one("[data-problems]") is not None
    form = policy_form(body_html="<p>内部资料</p>", publish_at="2020-01-01T09:00")
    r = editor.post("/app/checks/draft", data={"csrf": csrf_of(page.text), **form})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    rules = sorted(p["rule"] for p in r.json()["problems"])
    assert rules == ["dates.publish_before_approval", "secrecy.phrase"]
    assert editor.post("/app/checks/draft", data=form).status_code == 403  # no CSRF token
    anonymous = TestClient(http.client.app).post("/app/checks/draft", data=form, follow_redirects=False)
    assert anonymous.status_code == 303  # to the login page


@pytest.mark.parametrize(
    "body,field",
    [
        ({"title": 5}, "title"),
        ({"body_html": ["<p>x</p>"]}, "body_html"),
        ({"issue_date": 20261120}, "issue_date"),
        ({"publish_at": {}}, "publish_at"),
        ({"keywords": [1]}, "keywords.0"),
        ({"attachments": {"title": "a"}}, "attachments"),
        ({"attachments": [{"title": "a", "url": 5}]}, "attachments.0.url"),
        ({"attachments": ["https://a.example/x.pdf"]}, "attachments.0"),
        ({"procurement": {"supplier_contact": 13800138000}}, "procurement.supplier_contact"),
        ({"procurement": {"amount_yuan": True}}, "procurement.amount_yuan"),
        ({"changes": [{"item": ["x"]}]}, "changes.0.item"),
        ({"consultation": "2026-12-01"}, "consultation"),
        ({"sample": "yes"}, "sample"),
        ({"body_html": "字" * 2_000_001}, "body_html"),
        ({"keywords": ["词"] * 21}, "keywords"),
    ],
)
def test_a_draft_value_of_the_wrong_type_is_a_422_naming_the_field(
    http: Http, body: dict[str, Any], field: str
) -> None:
    r = http.client.post("/api/check", json={"type": "policy", **body}, headers=http.h("editor"))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_hostile_drafts_and_bodies_are_refused_or_checked_never_a_500(http: Http) -> None:
    c, editor = http.client, http.h("editor")
    raw = {**editor, "Content-Type": "application/json"}
    for content in (
        b"{bad",
        b"[1, 2]",
        b'"x"',
        b"null",
        b"",
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ):
        r = c.post("/api/check", content=content, headers=raw)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", (content[:20], r.text)
    # values an item could never hold: no time in any zone, no URL at all; checked, not a crash
    for draft in (
        {"publish_at": "0001-01-01T00:00:00+14:00"},
        {"publish_at": "9999-12-31T23:59:59-14:00"},
        {"issue_date": "2026-02-30", "formed_at": "x", "keywords": [None], "title": None},
    ):
        assert c.post("/api/check", json=draft, headers=editor).status_code == 200, draft
    weird = {
        "attachments": [
            {"title": "附件", "url": "http://[::1"},
            {"title": "端口", "url": "http://a.example:99999/"},
        ],
        "body_html": '<p><a href="javascript:alert(1)">《办法》全文</a>' + "<" * 5000 + "&#99999999;</p>",
    }
    r = c.post("/api/check", json=weird, headers=editor)
    assert r.status_code == 200, r.text
    dead = [p for p in r.json()["problems"] if p["rule"] == "links.dead"]
    assert sorted(p["field"] for p in dead) == ["attachments.0.url", "attachments.1.url", "body_html"]
    # the dictionary and register API: wrong types and shapes name the field
    ops = http.h("ops")
    for path, body, field in (
        ("/api/checks/words", {"term": 5, "kind": "forbidden"}, "term"),
        ("/api/checks/words", {"term": "甲乙", "kind": ["wrong"]}, "kind"),
        ("/api/checks/words", {"term": "\u200b\u3000", "kind": "forbidden"}, "term"),
        ("/api/checks/words", {"term": "甲\x01乙", "kind": "forbidden"}, "term"),
        ("/api/checks/words", {"term": "甲乙", "kind": "wrong", "suggestion": "甲\n丙"}, "suggestion"),
        ("/api/checks/people", {"name": "张\t三", "title": "局长", "valid_from": "2020-01-01"}, "name"),
        ("/api/checks/words", {"term": "甲乙", "kind": "forbidden", "severity": 1}, "severity"),
        ("/api/checks/words/remove", {"term": None}, "term"),
        ("/api/checks/people", {"name": ["张三"], "title": "局长", "valid_from": "2020-01-01"}, "name"),
        ("/api/checks/people", {"name": "张三", "title": "局长", "valid_from": "2020-13-01"}, "valid_from"),
        ("/api/checks/people", {"name": "张三", "title": " ", "valid_from": "2020-01-01"}, "title"),
    ):
        r = c.post(path, json=body, headers=ops)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
    for entry in ("0", "abc", "99999999999999999999999"):
        r = c.delete(f"/api/checks/people/{entry}", headers=ops)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "entry_id"
    huge = c.post(
        "/api/checks/words",
        content=b'{"term":"' + b"a" * 17_000_000 + b'"}',
        headers={**ops, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413


def test_a_stored_item_with_a_link_that_is_no_url_is_checked_not_a_crash(http: Http) -> None:
    c = http.client
    refused = c.post(
        "/api/items",
        json=policy(attachments=[{"title": "附件", "url": "http://[::1"}]),
        headers=http.h("editor"),
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "attachments.0.url"
    # an item stored before attachment URLs were checked at the door
    uid = to_review(http, policy(attachments=[{"title": "附件", "url": "https://a.example/x.pdf"}]))
    with http.runtime.db.transaction() as s:
        item = s.execute(select(Item).where(Item.uid == uid)).scalar_one()
        item.content = {**item.content, "attachments": [{"title": "附件", "url": "http://[::1"}]}
    for query in ("", "?network=true"):
        report = c.get(f"/api/items/{uid}/check{query}", headers=http.h("editor"))
        assert report.status_code == 200, report.text
        [dead] = [p for p in report.json()["problems"] if p["rule"] == "links.dead"]
        assert dead["field"] == "attachments.0.url" and dead["label"] == "附件1地址"
    assert http.page("approver").get(f"/app/items/{uid}").status_code == 200
    approval = c.post(f"/api/items/{uid}/approve", headers=http.h("approver"))
    assert approval.status_code == 422 and approval.json()["errors"][0]["rule"] == "links.dead"
    bad_time = c.post(
        "/api/items", json=policy(publish_at="0001-01-01T00:00:00+14:00"), headers=http.h("editor")
    )
    assert bad_time.status_code == 422 and bad_time.json()["errors"][0]["field"] == "publish_at"


def test_the_approval_page_shows_the_one_list_before_the_click(http: Http) -> None:
    uid = to_review(http, policy(body_html="<p>推进一带一路战略。</p><p>再接再励。</p>"))
    approver = http.page("approver")
    soup = BeautifulSoup(approver.get(f"/app/items/{uid}/approve").text, "html.parser")
    items = soup.select("#problems li.problem")
    assert [li["data-rule"] for li in items] == ["wording.wrong", "wording.normative"]
    assert "2 个问题阻止批准" in soup.select_one("#problems-summary").get_text()
    assert "再接再厉" in items[0].get_text() and items[0].select_one("form") is None
    # an approver may not accept a warning (a reviewer does): no form for them either
    assert not soup.select("#problems form.accept")
    clean = to_review(http, policy(title="关于做好另一项工作的通知"))
    quiet = BeautifulSoup(approver.get(f"/app/items/{clean}/approve").text, "html.parser")
    assert (
        quiet.select("#problems li.problem") == []
        and "未发现问题" in quiet.select_one("#problems-summary").get_text()
    )
