"""Every public page and feed entry shows the publication date (an undated item counts as not
updated under the State Council's inspection indicators), and every public page declares
lang="zh-CN" (GB/T 37668): over real HTTP, from items published through the service."""

from __future__ import annotations

import re
from datetime import datetime

import feedparser
import httpx
from bs4 import BeautifulSoup

from publisher.domain.clock import local
from publisher.editorial.service import Service
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.publisher.compliance.web_support import *  # noqa: F403  (fixtures: runtime, base)
from tests.publisher.web.test_public import deliver_rss, release
from tests.samples import sample


def published_on(service: Service, uid: str) -> str:
    at = service.item_detail(uid)["published_at"]
    return local(datetime.fromisoformat(at)).strftime("%Y-%m-%d")


def test_the_item_page_and_every_feed_entry_show_the_publication_date(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    [uid] = release(service, team, sample("consult-2019-01"))
    deliver_rss(runtime, uid)
    day = published_on(service, uid)

    page = httpx.get(f"{base}/items/{uid}")
    assert page.status_code == 200
    text = BeautifulSoup(page.text, "html.parser").get_text(" ", strip=True)
    m = re.search(r"发布日期：\s*(\d{4})\D(\d{2})\D(\d{2})", text) or re.search(
        r"发布日期：\s*(\d{4})年(\d{1,2})月(\d{1,2})日", text
    )
    assert m, "the item page shows no 发布日期"
    assert "-".join(f"{int(g):02d}" if i else g for i, g in enumerate(m.groups())) == day

    for path in ("/items", "/items?type=consultation", "/"):  # the lists show it on every row too
        soup = BeautifulSoup(httpx.get(f"{base}{path}").text, "html.parser")
        link = soup.select_one(f'a[href="/items/{uid}"]')
        assert link is not None, path
        row = link.find_parent("tr")
        assert row is not None and day in row.get_text(" "), f"{path}: the row shows no publication date"

    for path in ("/feeds/all.rss", "/feeds/all.atom", "/feeds/type/consultation.rss"):
        feed = feedparser.parse(httpx.get(f"{base}{path}").content)
        [entry] = [e for e in feed.entries if uid in e.get("link", "")]
        assert entry.get("published_parsed"), f"{path}: an entry without its publication date"
        y, mo, dd = entry.published_parsed[:3]
        assert f"{y:04d}-{mo:02d}-{dd:02d}" <= day  # the UTC date of a Beijing day


def test_every_public_page_declares_chinese(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    [uid] = release(service, team, sample("fee-2019-adjust"))
    deliver_rss(runtime, uid)
    for path in (
        f"/items/{uid}",
        "/items",
        "/items?type=fee_change",
        "/feeds",
        "/items/01nosuchitem000000000000",
    ):
        page = httpx.get(f"{base}{path}")
        html = BeautifulSoup(page.text, "html.parser").find("html")
        assert html is not None and html.get("lang") == "zh-CN", path
