"""Editor pages: the editor with inline field errors and 文号 normalisation, the list with its
filters, the per-channel preview with pre-flight problems, the workflow buttons per role,
maker-checker, release groups, abolish and withdraw behind a confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.publisher.web.pages.conftest import (
    PASSWORD,
    Site,
    approve,
    create,
    flashes,
    log_in,
    policy_form,
    post,
)
from tests.support import wait_for


def field_errors(html: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, message in re.findall(r'class="field-error" data-field="([^"]+)">([^<]*)', html):
        out.setdefault(name, []).append(message)
    return out


def uids_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-uid="([0-9a-z]{26})"', html)


def test_editor_shows_field_errors_inline_and_keeps_what_was_typed(site: Site) -> None:
    editor = site.login("editor")
    r = post(
        editor,
        "/app/items/new",
        policy_form(title="", doc_number="沪财预2026-12", issue_date="2026/11/20", subject="财政\\预算"),
        "/app/items/new",
    )
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert errors["title"] == ["不能为空 / must not be empty"]
    assert "文号格式不正确" in errors["doc_number"][0]
    assert "YYYY-MM-DD" in errors["issue_date"][0]
    assert 'value="沪财预2026-12"' in r.text and "财政资金，预算" in r.text  # nothing typed is lost
    assert site.service.list_items()[0] == 0
    # type-specific rules land next to their own inputs
    r = post(
        editor,
        "/app/items/new",
        policy_form(
            type="procurement_result",
            **{"procurement.project_number": "P-1", "procurement.amount_yuan": "12.345"},
        ),
        "/app/items/new",
    )
    errors = field_errors(r.text)
    assert "procurement.amount_yuan" in errors and "procurement.purchaser" in errors
    r = post(editor, "/app/items/new", policy_form(type="interpretation", interprets=""), "/app/items/new")
    assert "interprets" in field_errors(r.text)
    # an empty required date is missing, not badly written
    r = post(editor, "/app/items/new", policy_form(issue_date=""), "/app/items/new")
    assert field_errors(r.text)["issue_date"] == ["不能为空 / must not be empty"]


def test_document_number_is_normalised_on_save_and_shown(site: Site) -> None:
    editor = site.login("editor")
    uid = create(editor, doc_number="沪财预（２０２６）012号")
    page = editor.get(f"/app/items/{uid}").text
    assert "文号已规范为 沪财预〔2026〕12号" in " ".join(flashes(page))
    assert '<td id="doc-number">沪财预〔2026〕12号</td>' in page
    assert site.service.item_detail(uid)["doc_number"] == "沪财预〔2026〕12号"
    # the edit form shows the stored, normalised value; editing keeps fields it does not show
    form = editor.get(f"/app/items/{uid}/edit").text
    assert 'value="沪财预〔2026〕12号"' in form
    r = post(
        editor,
        f"/app/items/{uid}/edit",
        policy_form(title="改过的标题", doc_number="沪财预【2026】7号"),
        f"/app/items/{uid}/edit",
    )
    assert r.status_code == 303
    detail = site.service.item_detail(uid)
    assert detail["title"] == "改过的标题" and detail["doc_number"] == "沪财预〔2026〕7号"
    assert detail["content"]["keywords"] == ["财政资金", "预算"]


def step(client: Any, uid: str, action: str) -> Any:
    """One workflow action from the item's page (approval from its confirmation page)."""
    return approve(client, uid) if action == "approve" else post(client, f"/app/items/{uid}/{action}")


def test_list_search_and_filters(site: Site) -> None:
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    draft = create(editor, title="草稿中的通知")
    live = create(editor, title="已发布的政策")
    for who, action in ((editor, "submit"), (reviewer, "review"), (approver, "approve")):
        assert step(who, live, action).status_code == 303
    wait_for(lambda: site.service.item_detail(live)["delivery_status"] == "published")
    site.receiver.default = 400
    broken = create(editor, title="投递失败的政策")
    for who, action in ((editor, "submit"), (reviewer, "review"), (approver, "approve")):
        step(who, broken, action)
    wait_for(lambda: site.service.item_detail(broken)["delivery_status"] == "partially_published")

    def listed(query: str) -> list[str]:
        r = editor.get("/app/items" + query)
        assert r.status_code == 200
        return uids_listed(r.text)

    assert set(listed("")) == {draft, live, broken}
    assert listed("?q=草稿") == [draft]
    assert listed(f"?q={site.service.item_detail(live)['index_number']}") == [live]
    assert set(listed("?state=published")) == {live, broken}
    assert listed("?overall=published") == [live]
    assert listed("?overall=partially_published") == [broken]
    assert listed("?overall=draft") == [draft]
    assert listed("?overall=pending") == []
    assert listed("?type=notice") == []
    assert listed("?validity=已废止") == []
    today = date.today().isoformat()
    assert set(listed(f"?date_field=published&date_from={today}")) == {live, broken}
    assert listed("?date_field=published&date_to=2000-01-01") == []
    # nonsense filter values are ignored, never a 500
    assert set(listed("?type=x&state=y&overall=z&date_from=notadate&page=-3")) == {draft, live, broken}


def test_workflow_buttons_per_role_and_reject_needs_a_reason(site: Site) -> None:
    editor, reviewer = site.login("editor"), site.login("reviewer")
    uid = create(editor)
    page = editor.get(f"/app/items/{uid}").text
    assert 'value="submit"' in page and 'value="approve"' not in page
    post(editor, f"/app/items/{uid}/submit")
    assert 'value="review"' in reviewer.get(f"/app/items/{uid}").text
    # an editor posting a reviewer's action is refused by the service, and told why
    post(editor, f"/app/items/{uid}/review")
    assert any("需要角色" in m for m in flashes(editor.get(f"/app/items/{uid}").text))
    assert site.service.item_detail(uid)["state"] == "in_review"
    post(reviewer, f"/app/items/{uid}/reject", {"reason": " "})
    assert any("理由" in m for m in flashes(reviewer.get(f"/app/items/{uid}").text))
    post(reviewer, f"/app/items/{uid}/reject", {"reason": "文号有误"})
    detail = site.service.item_detail(uid)
    assert detail["state"] == "draft" and detail["reject_reason"] == "文号有误"
    assert "退回理由：文号有误" in editor.get(f"/app/items/{uid}").text


def test_the_author_cannot_approve_even_as_admin(site: Site) -> None:
    admin, reviewer, approver = site.login("admin"), site.login("reviewer"), site.login("approver")
    uid = create(admin, title="管理员起草的政策")
    post(admin, f"/app/items/{uid}/submit")
    post(reviewer, f"/app/items/{uid}/review")
    page = admin.get(f"/app/items/{uid}").text
    assert "须由他人批准" in page
    approve(admin, uid)
    assert any("不能批准自己起草或修改过的信息" in m for m in flashes(admin.get(f"/app/items/{uid}").text))
    assert site.service.item_detail(uid)["state"] == "awaiting_approval"
    approve(approver, uid)
    assert site.service.item_detail(uid)["state"] == "published"


def test_a_release_group_is_shown_together_and_approved_together(site: Site) -> None:
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    policy = create(editor, title="组内政策", release_group="g-2026-1")
    link = editor.get(f"/app/items/{policy}").text
    assert f"/app/items/new?type=interpretation&amp;interprets={policy}&amp;release_group=g-2026-1" in link
    form = editor.get(f"/app/items/new?type=interpretation&interprets={policy}&release_group=g-2026-1").text
    assert f'value="{policy}"' in form
    interp = create(
        editor, type="interpretation", title="组内政策的解读", interprets=policy, release_group="g-2026-1"
    )
    for uid in (policy, interp):
        post(editor, f"/app/items/{uid}/submit")
        post(reviewer, f"/app/items/{uid}/review")
    page = approver.get(f"/app/items/{interp}").text
    assert "发布组 g-2026-1" in page and "组内政策" in page and "连同发布组 2 条" in page
    approve(approver, interp)
    assert "《组内政策》" in " ".join(flashes(approver.get(f"/app/items/{interp}").text))
    assert {site.service.item_detail(u)["state"] for u in (policy, interp)} == {"published"}


def test_withdraw_and_abolish_need_a_confirmation_step(site: Site) -> None:
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    uids = [create(editor, title=f"待处理政策{i}") for i in range(2)]
    for uid in uids:
        for who, action in ((editor, "submit"), (reviewer, "review"), (approver, "approve")):
            step(who, uid, action)
    first, second = uids
    # without the confirmation field the action only leads to the confirmation page
    r = post(approver, f"/app/items/{first}/withdraw", {"reason": "误发"})
    assert r.headers["location"] == f"/app/items/{first}/withdraw"
    assert site.service.item_detail(first)["state"] == "published"
    page = approver.get(r.headers["location"]).text
    assert "确认撤回" in page and "不可恢复" in page
    post(approver, f"/app/items/{first}/withdraw", {"reason": "误发", "confirm": "yes"})
    assert site.service.item_detail(first)["state"] == "withdrawn"
    assert "撤回理由：误发" in approver.get(f"/app/items/{first}").text
    # abolish: the confirmation carries the date and the new validity
    assert "确认变更" in approver.get(f"/app/items/{second}/abolish").text
    post(
        approver,
        f"/app/items/{second}/abolish",
        {"confirm": "yes", "validity": "已失效", "date": "2026-12-01"},
    )
    detail = site.service.item_detail(second)
    assert detail["validity"] == "已失效" and detail["validity_changed_on"] == "2026-12-01"
    # an editor sees neither button and is refused if posting anyway
    assert "撤回…" not in editor.get(f"/app/items/{second}").text
    post(editor, f"/app/items/{second}/withdraw", {"reason": "x", "confirm": "yes"})
    assert site.service.item_detail(second)["state"] == "published"


@pytest.fixture
def preview_client(make_runtime: Callable[..., Runtime]) -> Iterator[TestClient]:
    """rss, cms and wechat routed, without credentials (nothing is sent: previews only render
    and check; an enabled channel naming an unset secret variable would not start)."""
    channels = {
        "rss": {"enabled": True},
        "cms": {"enabled": True, "base_url": "http://127.0.0.1:9", "user": "admin"},
        "wechat": {
            "enabled": True,
            "appid": "wx0000000000000000",
            "api_base_url": "http://127.0.0.1:9/cgi-bin/",
        },
    }
    rt = make_runtime(channels=channels, executor=False, routing={"policy": ["rss", "cms", "wechat"]})
    rt.service.add_user("editor", "editor", PASSWORD)
    with TestClient(create_app(rt)) as client:
        yield log_in(client, "editor")


def test_preview_renders_every_routed_channel_and_lists_preflight_problems(
    preview_client: TestClient,
) -> None:
    long_title = "关于进一步规范和加强本市各级财政部门预算执行管理与资金使用监督工作的通知（试行稿）"
    uid = create(preview_client, title=long_title, body_html="<p>第一段正文。</p><h2>一、要求</h2>")
    page = preview_client.get(f"/app/items/{uid}/preview")
    assert page.status_code == 200
    html = page.text
    assert [c for c in re.findall(r'data-channel="([^"]+)"', html)] == ["rss", "cms", "wechat"]
    # each channel's own rendering: the RSS entry, the CMS post with its metadata table, the phone-width article
    rss = html.split('id="preview-rss"')[1].split("</section>")[0]
    assert long_title in rss and "第一段正文" in rss and "政策文件" in rss
    cms = html.split('id="preview-cms"')[1].split("</section>")[0]
    assert "publisher-disclosure-meta" in cms and "索取号" in cms
    wechat = html.split('id="preview-wechat"')[1].split("</section>")[0]
    assert 'class="phone"' in wechat and "自动生成封面" in wechat
    # the 32-character WeChat title limit is a pre-flight problem that names the field
    assert "short_title" in wechat and "请填写微信短标题" in wechat
    assert "预检发现" in html
    # with a short title the problem is gone and the article uses it
    post(
        preview_client,
        f"/app/items/{uid}/edit",
        policy_form(title=long_title, short_title="规范预算执行管理的通知"),
        f"/app/items/{uid}/edit",
    )
    wechat = preview_client.get(f"/app/items/{uid}/preview").text.split('id="preview-wechat"')[1]
    assert "请填写微信短标题" not in wechat.split("</section>")[0]
    assert '<h3 class="wechat-title">规范预算执行管理的通知</h3>' in wechat


def test_unknown_items_are_404_pages(site: Site) -> None:
    editor = site.login("editor")
    for path in (
        "/app/items/01aaaaaaaaaaaaaaaaaaaaaaaa",
        "/app/items/not-a-uid/preview",
        "/app/items/01aaaaaaaaaaaaaaaaaaaaaaaa/edit",
        "/app/ops/items/01aaaaaaaaaaaaaaaaaaaaaaaa",
    ):
        r = editor.get(path)
        assert r.status_code == 404 and "未找到" in r.text, path


def test_item_page_shows_the_statutory_disclosure_clock(site: Site) -> None:
    # a policy formed 2026-11-02 and published now: due 20 working days later, shown on its page
    from publisher.compliance.deadlines import deadlines
    from publisher.domain.clock import utcnow
    from publisher.editorial.auth import actor_of
    from tests.samples import policy

    svc = site.service
    editor, reviewer, approver = (svc.user_by_name(n) for n in ("editor", "reviewer", "approver"))
    assert editor and reviewer and approver
    item = svc.create_item(actor_of(editor), policy(issue_date="2026-11-02"))
    svc.submit(actor_of(editor), item.uid)
    svc.review(actor_of(reviewer), item.uid)
    svc.approve(actor_of(approver), item.uid)
    with site.runtime.db.reader() as s:
        [clock] = deadlines(s, utcnow(), uid=item.uid)
    assert clock.started_on.isoformat() == "2026-11-02" and clock.due_on.isoformat() == "2026-11-30"
    page = site.login("editor").get(f"/app/items/{item.uid}").text
    assert '<td id="deadline-content">' in page
    assert "自 2026-11-02 起 20 个工作日，应于 2026-11-30 前公开" in page
