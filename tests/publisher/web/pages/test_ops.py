"""Ops pages: the delivery matrix and channel health, an item's timeline with attempts and
errors, the failed queue with replay one / replay selected, pause and resume, the audit log."""

from __future__ import annotations

import re
import threading

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.publisher.web.pages.conftest import Site, approve, create, flashes, post
from tests.support import wait_for


def approve_through_pages(site: Site, title: str) -> str:
    editor, reviewer, approver = site.login("editor"), site.login("reviewer"), site.login("approver")
    uid = create(editor, title=title)
    for who, action in ((editor, "submit"), (reviewer, "review")):
        assert post(who, f"/app/items/{uid}/{action}").status_code == 303
    assert approve(approver, uid).status_code == 303
    return uid


def cells(html: str, uid: str) -> dict[str, str]:
    row = html.split(f'<tr data-uid="{uid}">')[1].split("</tr>")[0]
    return dict(re.findall(r'data-channel="([^"]+)" data-state="([^"]*)"', row))


def health_row(html: str, channel: str) -> str:
    return html.split(f'<tr data-channel="{channel}">')[1].split("</tr>")[0]


def delivery_states(site: Site, uid: str) -> dict[str, str]:
    return {d["channel"]: d["state"] for d in site.service.deliveries(uid)}


def test_matrix_and_channel_health_show_every_channel_delivered(site: Site) -> None:
    uid = approve_through_pages(site, "看板上的政策")
    wait_for(lambda: set(delivery_states(site, uid).values()) == {"delivered"})
    ops = site.login("ops")
    html = ops.get("/app/ops").text
    assert cells(html, uid) == {"rss": "delivered", "webhook.hooks": "delivered"}
    row = health_row(html, "webhook.hooks")
    assert "100.0%" in row and "闭合" in row and "运行中" in row and " ms" in row


def test_failed_queue_replay_one_and_selected_after_the_fault_is_fixed(site: Site) -> None:
    site.receiver.default = 400
    uids = [approve_through_pages(site, f"失败的政策{i}") for i in range(3)]
    wait_for(lambda: all(delivery_states(site, u)["webhook.hooks"] == "failed" for u in uids))
    ops = site.login("ops")
    page = ops.get("/app/ops/failed").text
    ids = re.findall(r'<tr data-delivery="(\d+)" data-channel="webhook.hooks">', page)
    assert len(ids) == 3 and "共 3 条" in page and "400" in page
    assert "失败 3" in ops.get("/app/ops").text
    # an editor may look but not replay
    editor = site.login("editor")
    post(editor, "/app/ops/replay", {"one": ids[0]}, "/app/ops/failed")
    assert "需要角色" in " ".join(flashes(editor.get("/app/ops/failed").text))
    # the fault is removed; replay one, then the other two selected
    site.receiver.default = 200
    r = post(ops, "/app/ops/replay", {"one": ids[0], "delivery": ids[1:]}, "/app/ops/failed")
    assert r.headers["location"] == "/app/ops/failed"
    assert "已重放 1 条" in " ".join(flashes(ops.get("/app/ops/failed").text))
    post(ops, "/app/ops/replay", {"delivery": ids[1:]}, "/app/ops/failed")
    wait_for(lambda: all(delivery_states(site, u)["webhook.hooks"] == "delivered" for u in uids))
    assert "没有失败的投递" in ops.get("/app/ops/failed").text
    # replaying what is no longer failed is reported, not an error page
    post(ops, "/app/ops/replay", {"delivery": ids[:1]}, "/app/ops/failed")
    assert "1 条已不是失败状态" in " ".join(flashes(ops.get("/app/ops/failed").text))


def test_timeline_lists_audit_events_and_attempts_with_errors_and_receipts(site: Site) -> None:
    site.receiver.answer(400)
    uid = approve_through_pages(site, "时间线政策")
    wait_for(lambda: delivery_states(site, uid)["webhook.hooks"] == "failed")
    ops = site.login("ops")
    html = ops.get(f"/app/ops/items/{uid}").text
    timeline = html.split('id="timeline"')[1]
    # events and outcomes in Chinese; the technical text only behind its toggle
    for action in ("新建", "提交审查", "通过保密审查", "批准发布"):
        assert f'<td data-label="事件">{action}</td>' in timeline
    assert "被拒绝" in timeline and "对方拒绝了这条内容（HTTP 400）" in timeline
    assert "<summary>技术详情</summary><code>HTTP 400" in timeline and ">permanent<" not in timeline
    [failed] = re.findall(
        r'<tr data-delivery="(\d+)" data-channel="webhook.hooks" data-state="failed">', html
    )
    # replay from the timeline comes back to it
    r = post(
        ops, "/app/ops/replay", {"one": failed, "back": f"/app/ops/items/{uid}"}, f"/app/ops/items/{uid}"
    )
    assert r.headers["location"] == f"/app/ops/items/{uid}"
    wait_for(lambda: delivery_states(site, uid)["webhook.hooks"] == "delivered")
    html = ops.get(f"/app/ops/items/{uid}").text
    assert html.count("HTTP 200") >= 1 and 'data-state="delivered"' in html
    rss = html.split('data-channel="rss" data-state="delivered">')[1].split("</tr>")[0]
    assert (
        f"/items/{uid}" in rss and "<details><summary>回执</summary>" in rss
    )  # link to the live copy + receipt


def test_pause_and_resume_from_the_channel_page(site: Site) -> None:
    ops = site.login("ops")
    r = post(
        ops,
        "/app/ops/channels/webhook.hooks/pause",
        {"reason": "接收方维护", "back": "/app/ops/channels", "confirm": "yes"},
        "/app/ops/channels",
    )
    assert r.headers["location"] == "/app/ops/channels"
    row = health_row(ops.get("/app/ops/channels").text, "webhook.hooks")
    assert "已暂停" in row and "接收方维护" in row
    uid = approve_through_pages(site, "暂停期间的政策")
    wait_for(lambda: delivery_states(site, uid)["webhook.hooks"] == "held")
    row = health_row(ops.get("/app/ops").text, "webhook.hooks")
    assert '<td data-label="队列">1</td>' in row  # queue depth
    post(ops, "/app/ops/channels/webhook.hooks/resume", {}, "/app/ops")
    assert "放行 1 条" in " ".join(flashes(ops.get("/app/ops").text))
    wait_for(lambda: delivery_states(site, uid)["webhook.hooks"] == "delivered")
    assert not site.service.channel_status("webhook.hooks")["paused"]


def test_audit_log_newest_first_filtered_by_item(site: Site) -> None:
    uid = approve_through_pages(site, "审计政策")
    other = create(site.login("editor"), title="另一条")
    ops: TestClient = site.login("ops")
    html = ops.get("/app/ops/audit").text
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', html)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 5
    only = ops.get(f"/app/ops/audit?item={uid}").text
    assert uid in only and other not in only.split('id="audit"')[1]


def test_pausing_asks_for_a_reason_and_confirmation_and_shows_who_and_when(site: Site) -> None:
    ops = site.login("ops")
    # the button leads to a confirmation that says what pausing does
    page = ops.get("/app/ops/channels/webhook.hooks/pause?back=/app/ops/channels")
    assert page.status_code == 200 and "暂缓" in page.text and 'name="reason"' in page.text
    # a post without the confirmation, or without a reason, pauses nothing
    r = post(ops, "/app/ops/channels/webhook.hooks/pause", {"reason": "维护"}, "/app/ops")
    assert r.status_code == 303 and r.headers["location"].startswith("/app/ops/channels/webhook.hooks/pause")
    r = post(ops, "/app/ops/channels/webhook.hooks/pause", {"reason": " ", "confirm": "yes"}, "/app/ops")
    assert r.headers["location"].startswith("/app/ops/channels/webhook.hooks/pause")
    assert not site.service.channel_status("webhook.hooks")["paused"]
    # confirmed with a reason: paused, and the dashboard says by whom and when
    post(ops, "/app/ops/channels/webhook.hooks/pause", {"reason": "接收方维护", "confirm": "yes"}, "/app/ops")
    assert site.service.channel_status("webhook.hooks")["paused"]
    row = health_row(ops.get("/app/ops").text, "webhook.hooks")
    assert "接收方维护" in row and re.search(r"（ops 于 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} 暂停）", row), row
    assert ops.get("/app/ops/channels/nosuch/pause").status_code == 404


def test_audit_log_search_by_title_user_action_and_time_with_only_changes(site: Site) -> None:
    editor = site.login("editor")
    uid = create(editor, title="关于预算绩效管理的通知")
    create(editor, title="另一条通知")
    # an edit through the form (which posts every field) changes one field
    page = editor.get(f"/app/items/{uid}/edit").text
    form = {m.group(1): m.group(2) for m in re.finditer(r'name="([a-z_.]+)" value="([^"]*)"', page)}
    form.update(
        {
            "type": "policy",
            "title": "关于预算绩效管理的通知",
            "subject": "财政\\预算",
            "issue_date": "2026-11-20",
            "description": "规范财政资金管理。",
            "body_html": "<p>正文。</p>",
            "doc_number": "沪财预[2026]12号",
            "keywords": "财政资金，预算",
            "disclosure": "主动公开",
            "scope": "面向社会",
        }
    )
    form["description"] = "加强预算绩效管理。"
    r = post(editor, f"/app/items/{uid}/edit", form, f"/app/items/{uid}/edit")
    assert r.status_code == 303, r.text[-500:]
    ops = site.login("ops")
    html = ops.get("/app/ops/audit", params={"q": "预算绩效", "action": "edit", "actor": "editor"}).text
    rows = re.findall(r'<tr data-seq="\d+" data-action="([a-z_.]+)">', html)
    assert rows == ["edit"], rows
    table = html.split('id="audit"')[1]
    assert "关于预算绩效管理的通知" in table and "另一条通知" not in table
    diff = table.split('class="diff"')[1].split("</table>")[0]
    assert "内容描述" in diff and "规范财政资金管理。" in diff and "加强预算绩效管理。" in diff
    assert "信息名称" not in diff and "正文" not in diff  # unchanged fields are not listed
    # the title search: from the trigram index at three characters or more, by scanning below
    # that; the title alone (not the 文号), and a LIKE wildcard is a plain character
    for q, found in (
        ("预算绩效管理", True),
        ("绩效", True),
        ("沪财预", False),
        ("%", False),
        ("预算_效", False),
    ):
        table = ops.get("/app/ops/audit", params={"q": q}).text.split('id="audit"')[1]
        assert ("关于预算绩效管理的通知" in table) is found, q
    # time bounds and the user filter narrow it; a bad date is a clear error
    assert (
        "data-action="
        not in ops.get("/app/ops/audit", params={"date_to": "2000-01-01"}).text.split('id="audit"')[1]
    )
    assert (
        "data-action="
        not in ops.get("/app/ops/audit", params={"actor": "nobody"}).text.split('id="audit"')[1]
    )
    assert ops.get("/app/ops/audit", params={"date_from": "2026-13-01"}).status_code == 422


def test_the_dashboard_reads_its_panels_in_one_session(site: Site) -> None:
    """The ops dashboard's panels (counts, matrix, health, excluded, pauses, outages, drifts)
    read in one session: the request checks out two connections, the login session's and the
    page's (issue 21: six before, each panel its own session and transaction)."""
    ops = site.login("ops")
    ops.get("/app/ops")  # warm: the first view may build cached statements
    taken: list[str] = []

    def checkout(*_: object) -> None:
        name = threading.current_thread().name
        if not name.startswith("publisher-"):  # not the executor's sweeper and workers
            taken.append(name)

    db = site.runtime.db
    engines = {id(e): e for e in (db.engine, db.read_engine)}
    for engine in engines.values():
        event.listen(engine, "checkout", checkout)
    try:
        page = ops.get("/app/ops")
    finally:
        for engine in engines.values():
            event.remove(engine, "checkout", checkout)
    assert page.status_code == 200 and "渠道" in page.text
    assert len(taken) == 2, taken
