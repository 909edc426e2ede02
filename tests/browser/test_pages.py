"""The editor and ops pages in a real browser (Chromium via Playwright) against a real uvicorn
server, the embedded executor, the rss channel and a real webhook receiver.

An editor creates a policy with its interpretation (one release group) and submits both; a
reviewer clears them; the editor cannot approve (the role check); an approver approves the
group; the dashboard shows every channel delivered. Then the receiver answers 400, a
withdrawal fails on the webhook channel and shows up in the failed queue; after the fault is
removed a replay delivers it. Screenshots of the editor, preview, dashboard and timeline go to
tests/artifacts/screenshots/.

Maker-checker apart from the role: an admin (who may approve) wrote one member of a release
group and is refused approving the group from the other member.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.publisher.web.live import serve
from tests.receiver import Receiver, webhook_channels
from tests.support import wait_for

PASSWORD = "浏览器测试-密码-2026"
TIMEOUT = 20_000


@dataclass
class Live:
    base: str
    runtime: Runtime
    receiver: Receiver


# what a browser sees does not depend on the database: SQLite only (also in the modules that
# use `live`)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def live(receiver: Receiver, make_runtime: Callable[..., Runtime]) -> Iterator[Live]:
    channels = {
        "rss": {"enabled": True},
        **webhook_channels(receiver.url, retry={"base_seconds": 0.05, "cap_seconds": 0.1, "max_attempts": 2}),
    }
    rt = make_runtime(channels, routing={"policy": ["rss"], "interpretation": ["rss"]}, threads=1, sweep=0.1)
    for name, role in (
        ("editor", "editor"),
        ("reviewer", "reviewer"),
        ("approver", "approver"),
        ("ops", "ops"),
    ):
        rt.service.add_user(name, role, PASSWORD)
    with serve(create_app(rt)) as base:
        yield Live(base, rt, receiver)


def login(browser: Browser, live: Live, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{live.base}/app/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .me")).to_contain_text(name)
    return page


def uid_of(page: Page) -> str:
    m = re.search(r"/app/items/([0-9a-z]{26})$", page.url)
    assert m, page.url
    return m.group(1)


def reload_until(page: Page, shown: Callable[[], bool], what: str) -> None:
    """Reload a page that does not follow a state by itself until it shows it (wait_for)."""

    def look() -> bool:
        if shown():
            return True
        page.reload()
        return False

    wait_for(look, TIMEOUT / 1000, what, every=0.2)


def click_action(page: Page, action: str) -> None:
    page.click(f"#actions button[value={action}]")
    expect(page.locator(".flash.ok").first).to_be_visible()


def test_editor_to_delivered_and_a_failed_delivery_replayed(
    browser: Browser, live: Live, screenshots: Path
) -> None:
    # -- an editor writes the policy; the 文号 is normalised as typed and on save ---------------
    editor = login(browser, live, "editor")
    editor.click("text=新建")
    editor.select_option("select[name=type]", "policy")
    editor.fill("input[name=title]", "关于进一步规范财政资金管理的通知")
    editor.fill("input[name=issue_date]", "2026-11-20")
    editor.fill("input[name=doc_number]", "沪财预[2026]012号")
    expect(editor.locator("#doc-number-normalised")).to_have_text("将保存为：沪财预〔2026〕12号")
    editor.fill("input[name=subject]", "财政\\预算")
    editor.fill("input[name=keywords]", "财政资金，预算管理")
    editor.fill("textarea[name=description]", "规范财政资金管理，明确预算执行要求。")
    editor.fill("input[name=release_group]", "g-2026-12")
    editor.click("#body-source summary")  # the HTML source behind the rich-text editor
    editor.fill("textarea[name=body_html]", "<p>各区财政局：</p><h2>一、总体要求</h2><p>严格预算执行。</p>")
    expect(editor.locator("#body-editor h2")).to_have_text("一、总体要求")  # shown in the editor too
    editor.screenshot(path=str(screenshots / "editor.png"), full_page=True)
    editor.click("#save")
    expect(editor.locator("#doc-number")).to_have_text("沪财预〔2026〕12号")
    policy = uid_of(editor)

    # -- the preview shows each routed channel and no pre-flight problem ------------------------
    editor.click("text=预览各渠道")
    expect(editor.locator("#preflight-summary")).to_contain_text("预检通过")
    expect(editor.locator("#preview-rss")).to_contain_text("关于进一步规范财政资金管理的通知")
    expect(editor.locator("#preview-webhook-hooks")).to_be_visible()
    editor.screenshot(path=str(screenshots / "preview.png"), full_page=True)

    # -- its interpretation, in the same release group ------------------------------------------
    editor.goto(f"{live.base}/app/items/{policy}")
    editor.click("text=为本政策新建解读")
    expect(editor.locator("input[name=interprets]")).to_have_value(policy)
    editor.fill("input[name=title]", "《关于进一步规范财政资金管理的通知》政策解读")
    editor.fill("input[name=subject]", "财政\\预算")
    editor.click("#body-source summary")
    editor.fill("textarea[name=body_html]", "<p>一、出台背景。</p>")
    editor.click("#save")
    interpretation = uid_of(editor)
    click_action(editor, "submit")
    editor.goto(f"{live.base}/app/items/{policy}")
    click_action(editor, "submit")
    expect(editor.locator("#group")).to_contain_text("政策解读")

    # -- a reviewer clears both ----------------------------------------------------------------
    reviewer = login(browser, live, "reviewer")
    for uid in (policy, interpretation):
        reviewer.goto(f"{live.base}/app/items/{uid}")
        click_action(reviewer, "review")
        expect(reviewer.locator("#state")).to_have_text("待批准")

    # -- the editor cannot approve (no approver role): no button, a forged post is refused ----
    editor.goto(f"{live.base}/app/items/{policy}")
    expect(editor.locator("#actions button[value=approve]")).to_have_count(0)
    # (fetch follows the redirect back to the item page, which carries the refusal)
    answer = editor.evaluate(
        """async (uid) => {
        const csrf = document.querySelector('input[name=csrf]').value;
        const r = await fetch(`/app/items/${uid}/approve`, {method: 'POST', body: new URLSearchParams({csrf})});
        return await r.text();
    }""",
        policy,
    )
    assert re.search(r"需要角色 [a-z、]*approver", answer), answer[-2000:]
    editor.reload()
    expect(editor.locator("#state")).to_have_text("待批准")

    # -- an approver approves the group at once -----------------------------------------------
    approver = login(browser, live, "approver")
    approver.goto(f"{live.base}/app/items/{interpretation}")
    expect(approver.locator("#actions button[value=approve]")).to_contain_text("连同发布组 2 条")
    approver.click("#actions button[value=approve]")
    # before the click: both items of the group, the channels by their public names, their state
    expect(approver.locator("#approve-members tr[data-uid]")).to_have_count(2)
    expect(approver.locator("#approve-members")).to_contain_text("订阅源")
    expect(approver.locator('#approve-channels tr[data-channel="rss"]')).to_contain_text("正常")
    approver.screenshot(path=str(screenshots / "approve.png"), full_page=True)
    approver.click("#confirm-approve button[type=submit]")
    expect(approver.locator(".flash.ok").first).to_be_visible()
    expect(approver.locator("#state")).to_have_text("已发布")
    # afterwards the page follows the deliveries until they settle, without a reload
    expect(approver.locator("#deliveries")).to_have_attribute("data-settled", "true", timeout=TIMEOUT)
    expect(approver.locator("#follow-status")).to_contain_text("投递已全部结束")

    # -- the dashboard shows every channel of both items turn delivered ------------------------
    ops = login(browser, live, "ops")
    ops.goto(f"{live.base}/app/ops")
    for uid in (policy, interpretation):
        for channel in ("rss", "webhook.hooks"):
            cell = ops.locator(f'#matrix tr[data-uid="{uid}"] td[data-channel="{channel}"]')
            reload_until(
                ops, lambda c=cell: c.get_attribute("data-state") == "delivered", f"{uid} on {channel}"
            )
            expect(cell).to_have_attribute("data-state", "delivered")
    expect(ops.locator('#channel-health tr[data-channel="webhook.hooks"]')).to_contain_text("100.0%")
    ops.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # -- the receiver starts refusing; withdrawing the interpretation fails on the webhook ------
    live.receiver.default = 400
    approver.goto(f"{live.base}/app/items/{interpretation}")
    approver.click("text=撤回…")
    expect(approver.locator("h1")).to_contain_text("确认撤回")
    approver.fill("#reason", "解读内容需要修订")
    approver.click("#confirm button[type=submit]")
    expect(approver.locator("#state")).to_have_text("已撤回")

    ops.goto(f"{live.base}/app/ops/failed")
    row = ops.locator('#failed tr[data-channel="webhook.hooks"]')
    reload_until(ops, lambda: row.count() > 0, "the failed withdrawal listed")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("400")

    # -- the fault is removed; ops select it and replay; the timeline shows it delivered ---------
    live.receiver.default = 200
    ops.check("input[data-select-all]")
    ops.click("#replay-selected")
    expect(ops.locator(".flash.ok")).to_contain_text("已重放 1 条")
    ops.goto(f"{live.base}/app/ops/items/{interpretation}")
    withdraw = ops.locator('#deliveries tr[data-channel="webhook.hooks"]').last
    reload_until(ops, lambda: withdraw.get_attribute("data-state") == "delivered", "the replayed withdrawal")
    expect(withdraw).to_have_attribute("data-state", "delivered")
    expect(ops.locator("#timeline")).to_contain_text("HTTP 400")
    expect(ops.locator("#timeline")).to_contain_text("撤回")
    ops.screenshot(path=str(screenshots / "timeline.png"), full_page=True)

    statuses = {
        d["operation"]: d["state"]
        for d in live.runtime.service.deliveries(interpretation)
        if d["channel"] == "webhook.hooks"
    }
    assert statuses == {"publish": "delivered", "withdraw": "delivered"}
    for name in ("editor", "preview", "approve", "dashboard", "timeline"):
        assert (screenshots / f"{name}.png").stat().st_size > 10_000


def test_an_approver_who_wrote_a_group_member_cannot_approve_the_group(browser: Browser, live: Live) -> None:
    """Maker-checker, not the role check: `admin` holds item.approve (the button is there), but
    it wrote one member of a release group, so approving the group from the other member — the
    one it never touched — is refused, naming its own item; nothing is approved."""
    from tests.samples import policy

    svc = live.runtime.service
    author = svc.add_user("author", "editor", PASSWORD)[0]
    maker = svc.add_user("admin", "admin", PASSWORD)[0]
    checker = svc.add_user("checker", "reviewer", PASSWORD)[0]
    theirs = svc.create_item(author, policy(title="他人起草的通知", release_group="g-maker")).uid
    mine = svc.create_item(maker, policy(title="管理员自己起草的通知", release_group="g-maker")).uid
    for uid, who in ((theirs, author), (mine, maker)):
        svc.submit(who, uid)
        svc.review(checker, uid)

    # the admin opens the member it did not write: it may approve by role, so it is offered
    page = login(browser, live, "admin")
    page.goto(f"{live.base}/app/items/{theirs}")
    expect(page.locator("#state")).to_have_text("待批准")
    page.click("#actions button[value=approve]")
    expect(page.locator("#approve-members tr[data-uid]")).to_have_count(2)
    page.click("#confirm-approve button[type=submit]")
    # refused by maker-checker over the whole group: the message names the admin's own item
    refusal = page.locator(".flash.error").first
    expect(refusal).to_contain_text("不能批准自己起草或修改过的信息《管理员自己起草的通知》")
    assert "需要角色" not in (refusal.text_content() or "")
    expect(page.locator("#state")).to_have_text("待批准")
    assert {svc.item_detail(u)["state"] for u in (theirs, mine)} == {"awaiting_approval"}
    # an approver who wrote neither approves the group
    approver = login(browser, live, "approver")
    approver.goto(f"{live.base}/app/items/{theirs}")
    approver.click("#actions button[value=approve]")
    approver.click("#confirm-approve button[type=submit]")
    expect(approver.locator("#state")).to_have_text("已发布")
