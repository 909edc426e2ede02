"""The item list at scale: keyset pages (after/before cursors) list every item exactly once in
(time, id) order, ties included, forwards and back; the total is exact from the maintained
counts or counted up to a cap ("超过 N 条"); a mangled cursor is ignored, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from publisher.editorial import paging
from publisher.store.models import Item, User
from tests.publisher.web.pages.conftest import Site

START = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(site: Site, n: int) -> list[str]:
    """n items, three to a timestamp (ties the id must break); the expected order, newest first."""
    with site.service.db.transaction() as s:
        user = s.execute(select(User.id).limit(1)).scalar_one()
        rows = [
            dict(
                uid=f"01keyset{i:018d}",
                type="policy" if i % 2 else "notice",
                state="published",
                title=f"关于第{i}号分页事项的通知",
                content={},
                validity="有效",
                published_at=START + timedelta(hours=i),
                created_by=user,
                created_at=START,
                updated_at=START + timedelta(minutes=i // 3),
            )
            for i in range(n)
        ]
        s.execute(insert(Item), rows)
        ordered = s.execute(select(Item.uid).order_by(Item.updated_at.desc(), Item.id.desc())).scalars().all()
    return list(ordered)


def _uids(html: str) -> list[str]:
    return re.findall(r'<tr data-uid="([0-9a-z]{26})"', html)


def _link(html: str, rel: str) -> str | None:
    m = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return "/app/items" + unescape(m.group(1)) if m else None


def _walk(client: TestClient, start: str, rel: str) -> tuple[list[list[str]], str]:
    pages, url, last = [], start, ""
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        pages.append(_uids(r.text))
        last, url = r.text, _link(r.text, rel)  # type: ignore[assignment]
    return pages, last


def test_keyset_pages_list_every_item_once_in_order_both_ways(site: Site) -> None:
    expected = _seed(site, 130)
    client = site.login("editor")
    forward, last_page = _walk(client, "/app/items", "next")
    assert [len(p) for p in forward] == [50, 50, 30]
    assert [u for p in forward for u in p] == expected
    assert "共 130 条" in client.get("/app/items").text  # no filter: exact, from the counts
    assert "第 3 / 3 页" in last_page
    # and back from the last page by the `before` cursors
    back_start = _link(last_page, "prev")
    assert back_start is not None
    backward, first_page = _walk(client, back_start, "prev")
    assert backward == [forward[1], forward[0]]
    assert "第 1 / 3 页" in first_page and 'rel="prev"' not in first_page


def test_keyset_by_publication_date_with_a_filter(site: Site) -> None:
    _seed(site, 70)
    client = site.login("editor")
    pages, _ = _walk(client, "/app/items?type=policy&date_field=published", "next")
    listed = [u for p in pages for u in p]
    # policy items are the odd ones; published an hour apart, newest first
    assert listed == [f"01keyset{i:018d}" for i in range(69, 0, -2)]


def test_a_filtered_total_is_counted_up_to_the_cap(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(site, 60)
    client = site.login("editor")
    monkeypatch.setattr(paging, "COUNT_CAP", 40)
    page = client.get("/app/items?q=分页事项").text
    assert "超过 40 条" in page and "第 1 页" in page and _link(page, "next")
    assert (
        "共 11 条" in client.get("/app/items?q=第1").text
    )  # 第1号 and 第10号 … 第19号: under the cap, exact


def test_a_mangled_cursor_is_ignored(site: Site) -> None:
    expected = _seed(site, 10)
    client = site.login("editor")
    # 999999999999999999 µs is past the year 9999; '²' passes str.isdigit() but not int()
    for bad in ("zzz", "1.x", "99999999999999999999.1", ".", "-5.3", "999999999999999999.1", "².1"):
        r = client.get(f"/app/items?after={bad}")
        assert r.status_code == 200
        assert _uids(r.text) == expected


def test_the_api_list_continues_by_cursor_and_bounds_a_filtered_total(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _seed(site, 25)
    _, token = site.service.add_user("api-reader", "editor")
    client = TestClient(site.app)  # type: ignore[arg-type]
    auth = {"Authorization": f"Bearer {token}"}
    seen: list[str] = []
    url = "/api/items?limit=10"
    while True:
        body = client.get(url, headers=auth).json()
        assert body["total"] == 25 and body["total_capped"] is False
        seen += [i["uid"] for i in body["items"]]
        if body["next"] is None:
            break
        url = f"/api/items?limit=10&after={body['next']}"
    assert seen == expected
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    body = client.get("/api/items?q=分页事项&limit=3", headers=auth).json()
    assert body["total"] == 5 and body["total_capped"] is True and len(body["items"]) == 3
    for bad in ("not-a-cursor", "999999999999999999.1"):
        r = client.get(f"/api/items?after={bad}", headers=auth)
        assert r.status_code == 422 and "after" in r.text
