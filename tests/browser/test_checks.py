"""The problem list as the editor types, in a real browser: static/checks.js posts the form
(debounced) and renders the answer; a click on a problem selects the matched text in its field;
the page runs no inline script (a CSP forbidding inline script is what issue 16 adds)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_pages import Live, live, login  # noqa: F401  (live is a fixture)

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
