"""The preview shows each channel as its audience will see it: channel names their audience
knows, formatted times, the raw data only behind 原始数据, and the public page itself."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from tests.publisher.web.pages.conftest import Site, create


def test_preview_per_channel_and_of_the_public_page(site: Site) -> None:
    editor = site.login("editor")
    uid = create(editor, title="关于规范预算公开的通知", doc_number="")
    soup = BeautifulSoup(editor.get(f"/app/items/{uid}/preview").text, "html.parser")
    rss = soup.select_one("#preview-rss")
    assert rss.select_one("h2").get_text(" ", strip=True).startswith("订阅源")
    line = rss.select_one(".rss p.muted").get_text()
    assert (
        re.search(r"发布 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", line) and "T" not in line.split("发布")[1]
    ), line
    hook = soup.select_one("#preview-webhook-hooks")
    assert hook.select_one("h2").get_text(" ", strip=True).startswith("推送（hooks）")
    # the JSON only behind the toggle
    for section in (rss, hook):
        raw = section.select_one("details.raw")
        assert raw is not None and raw.select_one("summary").get_text() == "原始数据"
        assert raw.select_one("pre").get_text().lstrip().startswith("{")
        outside = "".join(str(c) for c in section.children if c is not raw)
        assert "<pre" not in outside
    # and the public page as citizens will see it, in the agency's vocabulary
    public = soup.select_one("#preview-public")
    heads = [th.get_text() for th in public.select("table.meta th")]
    assert "索取号" in heads and "印发日期" in heads and "是否有效" in heads
    assert "无文号" in public.get_text() and public.select_one("h3").get_text() == "关于规范预算公开的通知"
