"""The public disclosure site in Chromium at a desktop (1280 px) and a phone (390 px) width:
every page fits the screen (no sideways scrolling: lists become stacked cards, the metadata
panel wraps), no date breaks across lines, the pages run no inline script, and screenshots
of the home page, an item and the catalogue go to tests/artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from publisher.runtime import Runtime
from publisher.web.app import create_app
from tests.conftest import Team
from tests.publisher.web.live import serve
from tests.samples import sample

# axe-core, vendored from the npm registry (tests/browser/vendor/axe-core-4.14.1, MPL-2.0; see README)
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass
class Site:
    base: str
    policy: str
    fee: str
    withdrawn: str


def _publish(runtime: Runtime, team: Team, *datas: dict[str, object]) -> list[str]:
    service = runtime.service
    uids = []
    for data in datas:
        item = service.create_item(team.editor, data)
        service.submit(team.editor, item.uid)
        service.review(team.reviewer, item.uid)
        uids.append(item.uid)
    service.approve(team.approver, uids[0])
    return uids


@pytest.fixture
def site(make_runtime: Callable[..., Runtime], team: Team) -> Iterator[Site]:
    rt = make_runtime({"rss": {"enabled": True}}, executor=False)
    _publish(
        rt,
        team,
        {
            "type": "guide",
            "title": "上海市财政局政府信息公开指南（2026年修订）",
            "issue_date": "2026-01-05",
            "subject": "综合政务\\政务公开",
            "description": "主动公开的范围、依申请公开的办理方式、收费和监督渠道。",
            "body_html": "<h2>一、主动公开</h2><p>本机关主动公开的信息在本网站发布。</p>",
        },
    )
    _publish(
        rt,
        team,
        {
            "type": "rules",
            "title": "上海市财政局政府信息公开保密审查制度",
            "issue_date": "2025-06-01",
            "subject": "综合政务\\政务公开",
            "body_html": "<p>公开前依照保密法律法规进行审查。</p>",
        },
    )
    policy, _ = _publish(rt, team, sample("policy-2019-plan"), sample("interp-2019-plan"))
    (fee,) = _publish(rt, team, sample("fee-2019-adjust"))
    (gone,) = _publish(rt, team, sample("notice-abolish"))
    rt.service.withdraw(team.approver, gone, "已被新的通知替代")
    with serve(create_app(rt)) as base:
        yield Site(base, policy, fee, gone)


def _fits(page: Page) -> None:
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} scrolls sideways by {wide}px"
    broken = page.evaluate(
        """() => [...document.querySelectorAll('.date')].filter(el => {
               const r = document.createRange(); r.selectNodeContents(el);
               const tops = new Set([...r.getClientRects()].map(c => Math.round(c.top)));
               return tops.size > 1; }).map(el => el.textContent)"""
    )
    assert broken == [], f"{page.url}: dates broken across lines: {broken}"
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).length")
    assert inline == 0


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_public_pages_fit_desktop_and_phone(
    browser: Browser, site: Site, screenshots: Path, size: str
) -> None:
    page = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN").new_page()
    for path in (
        "/",
        "/items",
        f"/items/{site.policy}",
        f"/items/{site.fee}",
        f"/items/{site.withdrawn}",
        "/catalogue",
        "/feeds",
        "/reports/annual",
        f"/reports/annual/{time.gmtime().tm_year}",
        "/reports/annual/abc",
    ):
        page.goto(site.base + path)
        assert page.locator("main h1").count() == 1, path
        _fits(page)
        if path == "/":
            page.screenshot(path=str(screenshots / f"public-home-{size}.png"), full_page=True)
        elif path == f"/items/{site.policy}":
            page.screenshot(path=str(screenshots / f"public-item-{size}.png"), full_page=True)
        elif path == "/catalogue":
            page.screenshot(path=str(screenshots / f"public-catalogue-{size}.png"), full_page=True)
    if size == "phone":
        # lists are cards: each cell on its own line, labelled with the panel's vocabulary
        page.goto(f"{site.base}/items")
        first = page.locator("#items tbody tr").first
        assert first.locator("td").nth(1).evaluate("td => getComputedStyle(td).display") == "block"
        label = (
            first.locator("td[data-label]").nth(1).evaluate("td => getComputedStyle(td, '::before').content")
        )
        assert "索取号" in label
        # the metadata panel stacks its label/value pairs
        page.goto(f"{site.base}/items/{site.policy}")
        th = page.locator("#metadata th").first
        assert th.evaluate("th => getComputedStyle(th).display") == "block"
    for name in ("home", "item", "catalogue"):
        assert (screenshots / f"public-{name}-{size}.png").stat().st_size > 10_000


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_public_pages_have_no_serious_accessibility_violations(
    browser: Browser, site: Site, size: str
) -> None:
    # the harness injects axe as an inline script, which the site's CSP rightly refuses
    page = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN", bypass_csp=True).new_page()
    found = {}
    for path in (
        "/",
        "/items",
        f"/items/{site.policy}",
        f"/items/{site.fee}",
        f"/items/{site.withdrawn}",
        "/catalogue",
        "/fees",
        "/feeds",
        "/reports/annual",
        f"/reports/annual/{time.gmtime().tm_year}",
        "/nosuchpage",
    ):
        page.goto(site.base + path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`);
            }"""
        )
        if result:
            found[path] = result
    assert found == {}, found
    # and the check can fail: an image without alt text is a critical violation
    page.goto(site.base + "/")
    page.evaluate("() => document.querySelector('main').append(Object.assign(new Image(), {src: '/x.png'}))")
    page.add_script_tag(path=str(AXE))
    ids = page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)")
    assert "image-alt" in ids
