"""Each role's landing page shows its work queues: 我的草稿 and 被退回 (with the reason) for
the author, 待我审查 for reviewers, 待我批准 for approvers; never someone else's drafts, and
never the actor's own item in a queue they may not act on."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.publisher.web.pages.conftest import Site, create, post


def queues(client: TestClient) -> dict[str, list[str]]:
    r = client.get("/app/")
    assert r.status_code == 200, r.text
    soup = BeautifulSoup(r.text, "html.parser")
    return {
        s["id"].removeprefix("queue-"): [li.get_text(" ", strip=True) for li in s.select("li")]
        for s in soup.select("section.queue")
    }


def test_queues_follow_an_item_through_the_workflow(site: Site) -> None:
    editor, editor2 = site.login("editor"), site.login("editor2")
    reviewer, approver = site.login("reviewer"), site.login("approver")
    uid = create(editor, title="关于规范预算编制的通知")
    create(editor, title="关于加强票据管理的通知")
    mine = queues(editor)
    assert set(mine) == {"returned", "drafts"}
    assert any("关于规范预算编制的通知" in t for t in mine["drafts"]) and len(mine["drafts"]) == 2
    assert queues(editor2)["drafts"] == []  # not someone else's drafts
    assert set(queues(reviewer)) == {"review"} and queues(reviewer)["review"] == []

    assert post(editor, f"/app/items/{uid}/submit", page=f"/app/items/{uid}").status_code == 303
    assert [t for t in queues(reviewer)["review"] if "关于规范预算编制的通知" in t]
    assert len(queues(editor)["drafts"]) == 1
    # returned with a reason: the author sees it, with the reason
    r = post(reviewer, f"/app/items/{uid}/reject", {"reason": "文号缺失，请补充"}, page=f"/app/items/{uid}")
    assert r.status_code == 303
    returned = queues(editor)["returned"]
    assert len(returned) == 1 and "文号缺失，请补充" in returned[0]
    assert queues(reviewer)["review"] == []
    # resubmitted and reviewed: it waits for the approver
    post(editor, f"/app/items/{uid}/submit", page=f"/app/items/{uid}")
    post(reviewer, f"/app/items/{uid}/review", page=f"/app/items/{uid}")
    assert [t for t in queues(approver)["approval"] if "关于规范预算编制的通知" in t]
    assert queues(editor)["returned"] == []


def test_ops_keep_their_dashboard(site: Site) -> None:
    ops = site.login("ops")
    r = ops.get("/app/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/ops"
