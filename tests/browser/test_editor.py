"""The rich-text editor for 正文 in Chromium: Quill (vendored) over the form's textarea.
Headings and lists from the toolbar, a paste from Word keeping its headings, numbered list
and table, an image with its alt text, and what is saved is the cleaned HTML."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.browser.test_pages import Live, live, login  # noqa: F401  (live is a fixture)
from tests.support import wait_for

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # as `live` is

WORD = (
    "<html xmlns:o='urn:schemas-microsoft-com:office:office' xmlns:w='urn:schemas-microsoft-com:office:word'>"
    "<body><h2>一、总体要求</h2>"
    "<p class=MsoListParagraph style='mso-list:l0 level1 lfo1'><span style='mso-list:Ignore'>1.<span>&nbsp;</span></span>第一项任务</p>"
    "<p class=MsoListParagraph style='mso-list:l0 level1 lfo1'><span style='mso-list:Ignore'>2.<span>&nbsp;</span></span>第二项任务</p>"
    "<table class=MsoTableGrid><tr><td><p>项目</p></td><td><p>金额</p></td></tr>"
    "<tr><td><p>办公经费</p></td><td><p>12万元</p></td></tr></table>"
    "<p class=MsoNormal><o:p>保障措施。</o:p></p></body></html>"
)


def _ink(browser: Browser, png: bytes) -> int:
    """How many pixels of a screenshot differ clearly from its corner (the background): a
    button whose icon or label is invisible has none."""
    blank = browser.new_page()
    try:
        return int(
            blank.evaluate(
                """async (b64) => {
                    const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
                    const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
                    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                    const d = g.getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 0; i < d.length; i += 4) {
                        if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 120) n++;
                    }
                    return n;
                }""",
                base64.b64encode(png).decode(),
            )
        )
    finally:
        blank.close()


def _shown_ink(browser: Browser, button: Locator, timeout: float = 10.0) -> int:
    """The button's ink once it is painted: measured again until it shows or `timeout` passes
    (in CI one button once measured 0 with its icon drawn a moment later). A button that
    never shows anything, the bug this looks for, still ends at 0."""
    measured = [0]

    def painted() -> bool:
        measured[0] = _ink(browser, button.screenshot())
        return measured[0] > 20

    try:
        wait_for(painted, timeout, "the button painted", every=0.2)
    except AssertionError:
        pass  # the caller says which button showed nothing
    return measured[0]


def test_rich_text_editor_keeps_structure_and_saves_clean_html(
    browser: Browser,
    live: Live,  # noqa: F811
    screenshots: Path,
) -> None:
    page = login(browser, live, "editor")
    page.goto(f"{live.base}/app/items/new")
    editor = page.locator("#body-editor .ql-editor")
    expect(editor).to_be_visible()
    assert page.locator("#f-body_html").is_hidden()  # the source waits behind "HTML 源码"
    # only the chosen type's fields are shown; required ones are marked
    expect(page.locator("#row-catalogue")).to_be_hidden()
    expect(page.locator("#row-procurement-supplier")).to_be_hidden()
    page.select_option("#f-type", "fee_change")
    expect(page.locator("#row-catalogue")).to_be_visible()
    page.select_option("#f-type", "policy")
    expect(page.locator("#row-catalogue")).to_be_hidden()
    expect(page.locator("label[for=f-issue_date]")).to_contain_text("*")
    # a paste from Word keeps headings, the numbered list and the table
    editor.click()
    page.evaluate(
        """(html) => {
            const dt = new DataTransfer();
            dt.setData('text/html', html);
            dt.setData('text/plain', '一、总体要求');
            document.querySelector('#body-editor .ql-editor').dispatchEvent(
                new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
        }""",
        WORD,
    )
    source = page.locator("#f-body_html")
    expect(source).to_have_value(re.compile(r"<h2>一、总体要求</h2>"))
    html = source.input_value()
    assert "<ol>" in html and "第一项任务</li>" in html and "第二项任务</li>" in html, html
    assert "<table" in html and "办公经费" in html and "12万元" in html, html
    assert "mso-" not in html and "MsoNormal" not in html
    # a heading from the toolbar, then an image with its alt text (asked for in a prompt)
    editor.press("Control+End")
    editor.type("\n第三部分")
    answers = iter(["https://www.example.gov.cn/images/chart.png", "2026年预算支出结构图"])
    page.on("dialog", lambda d: d.accept(next(answers)))
    page.click(".ql-toolbar button.ql-image")
    expect(source).to_have_value(re.compile(r'alt="2026年预算支出结构图"'))
    page.screenshot(path=str(screenshots / "editor-rich.png"), full_page=True)
    # every toolbar button shows something (the table button once rendered blank: a white
    # character on the white toolbar); the table button inserts a table
    page.keyboard.press("Escape")  # no tooltip or hover state over the toolbar
    page.mouse.move(0, 0)
    for button in page.locator(".ql-toolbar button").all():
        name = button.get_attribute("aria-label") or button.get_attribute("class")
        ink = _shown_ink(browser, button)
        if ink <= 20:
            page.screenshot(path=str(screenshots / "editor-toolbar-blank.png"), full_page=True)
        assert ink > 20, f"toolbar button {name} draws nothing"
    expect(page.locator(".ql-toolbar button.ql-table")).to_have_attribute("aria-label", "表格")
    page.click(".ql-toolbar button.ql-table")
    expect(source).to_have_value(re.compile(r"<table"))
    # saving stores the cleaned structure
    page.fill("#f-title", "关于做好预算编制工作的通知")
    page.fill("#f-issue_date", "2026-11-20")
    page.fill("#f-subject", "财政\\预算")
    page.click("#save")
    expect(page.locator("#state")).to_have_text("草稿")
    body = page.locator(".post")
    expect(body.locator("h2")).to_have_text("一、总体要求")
    expect(body.locator("ol li")).to_have_count(2)
    expect(body.locator("table td").first).to_have_text("项目")
    expect(body.locator("img")).to_have_attribute("alt", "2026年预算支出结构图")
