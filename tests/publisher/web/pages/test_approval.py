"""The approval's confirmation page, through the pages: before the click it names what the
approval releases, the channels by their public names and their state (a paused channel
with its reason), and the items it abolishes; the confirm button approves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bs4 import BeautifulSoup

from publisher.domain.item import Role
from publisher.editorial.auth import Actor
from tests.publisher.web.pages.conftest import Site, approve, create, post
from tests.support import on_statements


def test_the_approver_sees_what_the_approval_does_before_confirming(site: Site) -> None:
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    old = create(editor, title="关于旧预算办法的通知")
    for action, client in (("submit", editor), ("review", reviewer)):
        assert post(client, f"/app/items/{old}/{action}", page=f"/app/items/{old}").status_code == 303
    assert approve(approver, old).status_code == 303
    new = create(editor, title="关于新预算办法的通知", doc_number="沪财预[2026]20号")
    site.service.update_item(_actor(site, "editor"), new, {"abolishes": [old]})
    for action, client in (("submit", editor), ("review", reviewer)):
        post(client, f"/app/items/{new}/{action}", page=f"/app/items/{new}")
    site.runtime.deliveries.pause(_actor(site, "ops"), "rss", "订阅源维护")

    page = approver.get(f"/app/items/{new}/approve")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    members = soup.select("#approve-members tr[data-uid]")
    assert [tr["data-uid"] for tr in members] == [new]
    assert "订阅源" in members[0].get_text()
    assert "关于旧预算办法的通知" in soup.select_one("#approve-abolishes").get_text()
    rss = soup.select_one('#approve-channels tr[data-channel="rss"]').get_text()
    assert "已暂停" in rss and "订阅源维护" in rss
    assert site.service.item_detail(new)["state"] == "awaiting_approval"  # nothing happened yet
    form = soup.select_one("#confirm-approve")
    assert form["method"] == "post" and form.select_one("input[name=confirm]")["value"] == "yes"
    r = approve(approver, new)
    assert r.status_code == 303
    assert site.service.item_detail(new)["state"] == "published"
    assert site.service.item_detail(old)["validity"] == "已废止"
    # the page an editor cannot use
    assert editor.get(f"/app/items/{new}/approve").status_code == 403


def test_the_page_reads_each_member_once(site: Site) -> None:
    """Each member of the approval is read by its uid once, for its detail and its checks
    together, and the items it abolishes by one look-up (issue 21: the page read the item for
    its detail, then again in a session of its own for the checks' report, and each abolished
    item twice more)."""
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    old = create(editor, title="关于旧收费办法的通知")
    for action, client in (("submit", editor), ("review", reviewer)):
        post(client, f"/app/items/{old}/{action}", page=f"/app/items/{old}")
    assert approve(approver, old).status_code == 303
    first = create(editor, title="关于新收费办法的通知", release_group="g-2026-21")
    second = create(editor, title="关于新收费办法的补充通知", release_group="g-2026-21")
    site.service.update_item(_actor(site, "editor"), second, {"abolishes": [old]})
    for uid in (first, second):
        for action, client in (("submit", editor), ("review", reviewer)):
            assert post(client, f"/app/items/{uid}/{action}", page=f"/app/items/{uid}").status_code == 303

    with _item_reads(site) as reads:
        page = approver.get(f"/app/items/{first}/approve")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert [tr["data-uid"] for tr in soup.select("#approve-members tr[data-uid]")] == [first, second]
    assert "关于旧收费办法的通知" in soup.select_one("#approve-abolishes").get_text()
    assert reads.count(first) == 1 and reads.count(second) == 0 and reads.count(old) == 0, reads


@contextmanager
def _item_reads(site: Site) -> Iterator[list[str]]:
    """The uids of the statements that read one item row by its uid meanwhile (the other
    reads take a release group or a list of uids)."""
    seen: list[str] = []

    def keep(statement: str, params: Any) -> None:
        if "FROM items" in statement and "items.uid = " in statement:
            values = params.values() if isinstance(params, dict) else params
            seen.extend(str(v) for v in values or () if isinstance(v, str))

    with on_statements(site.runtime.db, keep):
        yield seen


def _actor(site: Site, name: str) -> Actor:
    user = site.service.user_by_name(name)
    assert user is not None
    return Actor(id=user.id, name=user.name, role=Role(user.role))
