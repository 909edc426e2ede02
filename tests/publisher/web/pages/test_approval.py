"""The approval's confirmation page, through the pages: before the click it names what the
approval releases, the channels by their public names and their state (a paused channel
with its reason), and the items it abolishes; the confirm button approves."""

from __future__ import annotations

from bs4 import BeautifulSoup

from publisher.domain.item import Role
from publisher.editorial.auth import Actor
from tests.publisher.web.pages.conftest import Site, approve, create, post


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


def _actor(site: Site, name: str) -> Actor:
    user = site.service.user_by_name(name)
    assert user is not None
    return Actor(id=user.id, name=user.name, role=Role(user.role))
