"""The problem list as the editor types, in a real browser: static/checks.js posts the form
(debounced) and renders the answer; a click on a problem selects the matched text in its field;
the page runs no inline script (a CSP forbidding inline script is what issue 16 adds)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_pages import PASSWORD, Live, live, login  # noqa: F401  (live is a fixture)

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # as `live` is


def test_problems_appear_as_the_editor_types_and_point_at_the_text(browser: Browser, live: Live) -> None:  # noqa: F811
    page = login(browser, live, "editor")
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(f"{live.base}/app/items/new")
    problems = page.locator("#problems li.problem")
    page.fill("#f-title", "关于做好财政资金管理工作的通知")
    page.click("#body-source summary")  # the HTML source behind the rich-text editor
    page.fill("#f-body_html", "<p>深入开展扫黑险恶专项斗争。</p>")
    item = page.locator('#problems li.problem[data-rule="wording.wrong"]')
    expect(item).to_contain_text("扫黑险恶")
    expect(item).to_contain_text("须改正")
    expect(page.locator("#problems-summary")).to_contain_text("阻止批准")

    item.locator("a").click()  # selects the matched text in the body field
    selected = page.evaluate(
        "() => { const f = document.getElementById('f-body_html');"
        " return f.value.substring(f.selectionStart, f.selectionEnd); }"
    )
    assert selected == "扫黑险恶"

    page.fill("#f-body_html", "<p>深入开展扫黑除恶专项斗争。</p>")
    expect(problems).to_have_count(0)
    expect(page.locator("#problems-summary")).to_contain_text("未发现问题")
    assert any(url.endswith("/static/checks.js") for url in scripts)
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).length")
    assert inline == 0


@pytest.mark.parametrize("width", [390, 1280])
def test_the_approval_page_shows_the_list_and_fits(browser: Browser, live: Live, width: int) -> None:  # noqa: F811
    from tests.browser.test_staff_pages import _fits
    from tests.samples import policy

    svc = live.runtime.service
    author = svc.add_user("author", "editor", PASSWORD)[0]
    checker = svc.add_user("checker", "reviewer", PASSWORD)[0]
    long_link = "https://www.shanghai.gov.cn/" + "nw12344/" * 12 + "index.html"
    body = f'<p>推进一带一路战略，各处室要再接再励。详见<a href="{long_link}">点击这里</a>。</p><h4>附</h4>'
    uid = svc.create_item(author, policy(body_html=body)).uid
    svc.submit(author, uid)
    svc.review(checker, uid)
    page = login(browser, live, "approver")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.base}/app/items/{uid}/approve")
    rules = page.locator("#problems li.problem").evaluate_all("els => els.map(e => e.dataset.rule)")
    assert sorted(rules) == ["a11y.heading_order", "a11y.link_text", "wording.normative", "wording.wrong"]
    expect(page.locator("#problems-summary")).to_contain_text("阻止批准")
    _fits(page)
