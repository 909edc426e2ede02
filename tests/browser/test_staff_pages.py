"""Every staff page (/app/...) in Chromium at a desktop (1280 px) and a phone (390 px) width:
the page itself never scrolls sideways (wide tables become stacked cards or scroll inside
their own box, forms go to one column), the form fields stay inside the screen, the pages
run no inline script, and axe-core finds no serious or critical violation. The data behind the pages is the awkward kind: a release group,
a delivery refused for good (failed queue, alert), one waiting to retry, a paused channel,
an item sent back with a long reason, an edit with a diff in the audit log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.browser.test_pages import PASSWORD, TIMEOUT
from tests.browser.test_public_site import AXE
from tests.publisher.web.live import serve
from tests.receiver import Receiver, webhook_channels
from tests.samples import policy
from tests.support import wait_for

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LONG = "关于进一步规范和加强市级财政专项资金全过程预算绩效管理工作若干问题的补充通知（征求意见稿）"


@dataclass
class Staff:
    base: str
    runtime: Runtime
    policy: str
    interpretation: str
    pending: str
    rejected: str


def _settle(rt: Runtime, uid: str, channel: str, states: set[str]) -> None:
    wait_for(
        lambda: {d["state"] for d in rt.service.deliveries(uid) if d["channel"] == channel} & states,
        20,
        f"{uid} on {channel} reaching {states}",
    )


# what a browser sees does not depend on the database: SQLite only (as tests/browser/test_pages.py)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def staff(make_runtime: Callable[..., Runtime]) -> Iterator[Staff]:
    hooks, crm = Receiver().start(), Receiver().start()
    slow = {"base_seconds": 600, "cap_seconds": 600, "max_attempts": 5}
    channels = {
        "rss": {"enabled": True},
        **webhook_channels(hooks.url, retry=slow),
        **webhook_channels(crm.url, name="crm", retry=slow),
    }
    routes = ["rss", "webhook.hooks", "webhook.crm"]
    rt = make_runtime(channels, routing={"policy": routes, "interpretation": routes}, threads=1, sweep=0.1)
    who = {}
    for name, role in (("editor", "editor"), ("reviewer", "reviewer"), ("approver", "approver")):
        who[name], _ = rt.service.add_user(name, role, PASSWORD)
    who["ops"], _ = rt.service.add_user("ops", "ops", PASSWORD)
    rt.service.add_user("admin", "admin", PASSWORD)
    service = rt.service
    try:
        # a published release group: a policy with a long title and its interpretation
        first = service.create_item(
            who["editor"],
            policy(title=LONG, release_group="g-2026-12-budget-performance", doc_number="沪财预[2026]12号"),
        )
        second = service.create_item(
            who["editor"],
            {
                "type": "interpretation",
                "title": f"《{LONG}》政策解读",
                "subject": "财政\\预算",
                "issue_date": "2026-11-20",
                "interprets": first.uid,
                "release_group": "g-2026-12-budget-performance",
                "body_html": "<p>一、出台背景。</p>",
            },
        )
        for uid in (first.uid, second.uid):
            service.submit(who["editor"], uid)
            service.review(who["reviewer"], uid)
        service.approve(who["approver"], first.uid)
        for uid in (first.uid, second.uid):
            for channel in routes:
                _settle(rt, uid, channel, {"delivered"})
        # the subscribers start refusing: one for good (failed, an alert), one for now (retrying)
        hooks.default, crm.default = 400, 503
        service.withdraw(who["approver"], second.uid, "解读内容需要修订，" * 8)
        _settle(rt, second.uid, "webhook.hooks", {"failed"})
        _settle(rt, second.uid, "webhook.crm", {"retry_wait"})
        # an edit after publication leaves a diff in the audit log
        service.update_item(who["editor"], first.uid, {"description": "规范财政资金管理，" * 12})
        # one awaiting approval, one sent back with a reason
        pending = service.create_item(who["editor"], policy(title="关于做好2027年部门预算编制工作的通知"))
        service.submit(who["editor"], pending.uid)
        service.review(who["reviewer"], pending.uid)
        rejected = service.create_item(who["editor"], policy(title=f"{LONG}（第二稿）"))
        service.submit(who["editor"], rejected.uid)
        service.reject(who["reviewer"], rejected.uid, "文号与正文落款不一致，请核对后重新提交。" * 3)
        rt.deliveries.pause(who["ops"], "rss", "网站改版期间暂停订阅源，预计周五 18:00 恢复")
        with serve(create_app(rt)) as base:
            yield Staff(base, rt, first.uid, second.uid, pending.uid, rejected.uid)
    finally:
        hooks.stop()
        crm.stop()


def _login(browser: Browser, staff: Staff, name: str, size: str, *, bypass_csp: bool = False) -> Page:
    context = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN", bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{staff.base}/app/login")
    _fits(page)
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .me")).to_contain_text(name)
    return page


# What sticks out past the right edge of the screen, outside any box that scrolls on its own:
# named in the failure message so a regression points at its element.
OVERFLOW = """() => {
    const width = window.innerWidth;
    const scrolls = el => {
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const x = getComputedStyle(p).overflowX;
            if (x === 'auto' || x === 'scroll' || x === 'hidden') return true;
        }
        return false;
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.right > width + 1 && !scrolls(el)) {
            const id = el.id ? '#' + el.id : '';
            const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
            out.push(`${el.tagName.toLowerCase()}${id}${cls} (right ${Math.round(r.right)})`);
        }
    }
    return {wide: document.documentElement.scrollWidth - width, out: out.slice(0, 8)};
}"""


def _fits(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["wide"] <= 0, f"{page.url} scrolls sideways by {found['wide']}px: {found['out']}"
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).length")
    assert inline == 0, page.url


def _fields_fit(page: Page) -> None:
    """Every visible form field lies inside the screen, so nothing needs sideways panning to type."""
    outside = page.evaluate(
        """() => [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea, main button')]
            .filter(el => el.offsetParent !== null)
            .filter(el => { const r = el.getBoundingClientRect(); return r.left < -1 || r.right > window.innerWidth + 1; })
            .map(el => el.id || el.name || el.outerHTML.slice(0, 60))"""
    )
    assert outside == [], f"{page.url}: form fields off screen: {outside}"


def _pages(staff: Staff) -> dict[str, str]:
    """Every staff page with the text its heading carries."""
    last_year = time.gmtime().tm_year - 1
    return {
        "/app/": "我的工作",
        "/app/items": "信息列表",
        "/app/items/new": "新建信息",
        f"/app/items/{staff.policy}": LONG,
        f"/app/items/{staff.policy}/edit": "编辑",
        f"/app/items/{staff.policy}/preview": "预览",
        f"/app/items/{staff.pending}/approve": "确认批准",
        f"/app/items/{staff.policy}/withdraw": "确认撤回",
        f"/app/items/{staff.policy}/abolish": "确认废止",
        f"/app/items/{staff.rejected}": "第二稿",
        "/app/ops": "投递看板",
        "/app/ops/retrying": "等待重试",
        "/app/ops/failed": "失败队列",
        "/app/ops/channels": "渠道",
        "/app/ops/channels/webhook.crm/pause": "暂停渠道",
        f"/app/ops/items/{staff.interpretation}": "时间线",
        "/app/ops/audit": "审计日志",
        f"/app/ops/audit?q={LONG[:6]}": "审计日志",
        "/app/ops/alerts": "告警",
        f"/app/reports/annual/{last_year}": "年度报告",
        "/app/items/nosuchitem": "",
    }


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_staff_pages_fit_desktop_and_phone(
    browser: Browser, staff: Staff, screenshots: Path, size: str
) -> None:
    admin = _login(browser, staff, "admin", size)
    for path, heading in _pages(staff).items():
        admin.goto(staff.base + path)
        expect(admin.locator("main h1")).to_have_count(1)
        expect(admin.locator("main h1")).to_contain_text(heading)
        _fits(admin)
        _fields_fit(admin)
    # the data the pages had to fit is there
    admin.goto(f"{staff.base}/app/ops")
    expect(admin.locator('.outage[data-channel="rss"]')).to_contain_text("已暂停")
    admin.screenshot(path=str(screenshots / f"staff-dashboard-{size}.png"), full_page=True)
    admin.goto(f"{staff.base}/app/ops/failed")
    expect(admin.locator('#failed tr[data-channel="webhook.hooks"]')).to_have_count(1)
    admin.goto(f"{staff.base}/app/ops/retrying")
    expect(admin.locator("#retrying tr[data-id]")).to_have_count(1)
    admin.goto(f"{staff.base}/app/ops/alerts")
    expect(admin.locator("#firing tr[data-kind]").first).to_be_visible()
    admin.goto(f"{staff.base}/app/ops/audit")
    expect(admin.locator("#audit table.diff").first).to_be_visible()
    admin.goto(f"{staff.base}/app/items/{staff.policy}/edit")
    admin.screenshot(path=str(screenshots / f"staff-editor-{size}.png"), full_page=True)

    # each role's landing page with its queues
    for name, queue in (("editor", "queue-returned"), ("approver", "queue-approval")):
        page = _login(browser, staff, name, size)
        page.goto(f"{staff.base}/app/")
        expect(page.locator(f"#{queue} li").first).to_be_visible()
        _fits(page)
    for name in ("dashboard", "editor"):
        assert (screenshots / f"staff-{name}-{size}.png").stat().st_size > 10_000


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_staff_pages_have_no_serious_accessibility_violations(
    browser: Browser, staff: Staff, size: str
) -> None:
    # axe is injected as an inline script, which the pages' CSP rightly refuses
    admin = _login(browser, staff, "admin", size, bypass_csp=True)
    found = {}
    for path in [*_pages(staff), "/app/login"]:
        if path == "/app/login":  # as a visitor not logged in
            admin = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN", bypass_csp=True).new_page()
        admin.goto(staff.base + path)
        expect(admin.locator("main h1")).to_have_count(1)
        admin.add_script_tag(path=str(AXE))
        result = admin.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`);
            }"""
        )
        if result:
            found[path] = result
    assert found == {}, found


def test_the_overflow_check_can_fail(browser: Browser, staff: Staff) -> None:
    # a page made deliberately too wide is caught, and the culprit is named
    page = _login(browser, staff, "admin", "phone")
    page.goto(f"{staff.base}/app/")
    _fits(page)
    page.evaluate(
        "() => { const d = document.createElement('div'); d.id = 'too-wide';"
        " d.style.width = '600px'; d.style.height = '1px'; document.querySelector('main').prepend(d); }"
    )
    with pytest.raises(AssertionError, match="too-wide"):
        _fits(page)
