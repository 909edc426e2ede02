"""A problem only one channel has, through the pages over HTTP with CSRF: the approver sees
WeChat's own pre-flight problem on the approval page, approves with WeChat ticked out and a
reason, RSS goes out, WeChat's delivery waits as `excluded` (the audit log and the dashboard
show it), and the release button lets it go once the problem is gone — or a corrected
version's approval replaces it. WeChat is the local stand-in over real HTTP, confirmed by
polling (no callbacks to a TestClient)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from channels.standins.wechat_server import RunningServer
from publisher.runtime import Runtime
from publisher.settings import Settings
from publisher.web import create_app
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, redis_prefix)
from tests.channels.wechat_support import ImageHost
from tests.publisher.web.pages.conftest import PASSWORD, ROLES, create, csrf_of, flashes, log_in, post
from tests.support import after_sweeps, wait_for

SECRET_ENV = "PUBLISHER_TEST_WECHAT_SECRET"
LONG_TITLE = "上海市财政局关于进一步加强和规范政府购买服务预算管理有关事项的通知（2026年修订）"
REASON = "短标题待办公室确认，先发布其他渠道"


class Deployment:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.app = create_app(rt)
        self.clients: list[TestClient] = []

    def login(self, name: str) -> TestClient:
        client = TestClient(self.app)
        self.clients.append(client)
        return log_in(client, name)

    def wechat_delivery(self, uid: str, version: int | None = None) -> dict[str, Any]:
        rows = [d for d in self.rt.service.deliveries(uid) if d["channel"] == "wechat"]
        return rows[-1] if version is None else next(d for d in rows if d["version"] == version)

    def state(self, uid: str, channel: str) -> str:
        rows = [d for d in self.rt.service.deliveries(uid) if d["channel"] == channel]
        return str(rows[-1]["state"]) if rows else ""


Deploy = Callable[..., Deployment]


@pytest.fixture
def deploy(
    settings: Settings,
    make_runtime: Callable[..., Runtime],
    wechat: RunningServer,
    image_host: ImageHost,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deploy]:
    """RSS and WeChat for policies, the embedded executor, users with passwords. Called again
    with other WeChat settings it is the same database after a restart with a changed file."""
    monkeypatch.setenv(SECRET_ENV, wechat.config.secret)
    stack = ExitStack()
    users = False

    def make(*, hosts: list[str]) -> Deployment:
        nonlocal users
        section = {
            "enabled": True,
            "api_base_url": wechat.api_base_url,
            "appid": wechat.config.appid,
            "secret_env": SECRET_ENV,
            "key_prefix": redis_prefix,
            "allowed_image_hosts": hosts,
            "confirm_interval_seconds": 0.1,
            "retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 3},
        }
        rt = make_runtime(
            {"rss": {"enabled": True}, "wechat": section},
            threads=1,
            routing={
                **settings.routing,
                "policy": ["rss", "wechat"],
                "interpretation": ["rss", "wechat"],
            },
            checks=settings.checks.model_copy(update={"links": False}),
            # the image host is on loopback: allow-listed as an operator would
            egress=settings.egress.model_copy(update={"allow_hosts": [image_host.netloc]}),
        )
        if not users:
            for name, role in ROLES.items():
                rt.service.add_user(name, role, PASSWORD)
            users = True
        dep = Deployment(rt)
        stack.callback(rt.close)
        stack.callback(lambda: [c.close() for c in dep.clients])
        return dep

    yield make
    stack.close()


def _ready(dep: Deployment, **form: str) -> str:
    """An item created, submitted and reviewed through the pages: awaiting approval."""
    editor, reviewer = dep.login("editor"), dep.login("reviewer")
    uid = create(editor, **form)
    assert post(editor, f"/app/items/{uid}/submit", page=f"/app/items/{uid}").status_code == 303
    assert post(reviewer, f"/app/items/{uid}/review", page=f"/app/items/{uid}").status_code == 303
    return uid


def _confirm(client: TestClient, uid: str, **extra: Any) -> Any:
    """The confirmation page's form, posted with its CSRF token and digest plus `extra`."""
    page = client.get(f"/app/items/{uid}/approve").text
    etag = re.search(r'name="etag" value="([0-9a-f]*)"', page)
    data = {"csrf": csrf_of(page), "confirm": "yes", "etag": etag.group(1) if etag else "", **extra}
    return client.post(f"/app/items/{uid}/approve", data=data, follow_redirects=False)


def _release(client: TestClient, delivery_id: int, back: str) -> Any:
    page = client.get(back).text
    return client.post(
        f"/app/ops/deliveries/{delivery_id}/release",
        data={"csrf": csrf_of(page), "back": back},
        follow_redirects=False,
    )


def _messages(client: TestClient, url: str) -> list[str]:
    return flashes(client.get(url).text)


def test_the_approver_leaves_wechat_out_for_its_own_problem_and_a_new_version_replaces_it(
    deploy: Deploy, wechat: RunningServer
) -> None:
    dep = deploy(hosts=[])
    uid = _ready(dep, title=LONG_TITLE)
    approver, ops = dep.login("approver"), dep.login("ops")

    # the approval page names WeChat's own problem and offers to leave WeChat out
    soup = BeautifulSoup(approver.get(f"/app/items/{uid}/approve").text, "html.parser")
    row = soup.select_one('#approve-channels tr[data-channel="wechat"]').get_text()
    assert "1 个问题" in row
    assert "通过" in soup.select_one('#approve-channels tr[data-channel="rss"]').get_text()
    box = soup.select_one('#confirm-approve #approve-exclude .exclude-channel[data-channel="wechat"]')
    assert box.select_one("input[type=checkbox][name=exclude]")["value"] == "wechat"
    assert "标题超过32字" in box.get_text()
    assert soup.select_one('#approve-exclude [data-channel="rss"]') is None
    assert soup.select_one("#confirm-approve textarea[name=exclude_reason]") is not None

    # confirmed as it is: refused for every channel, naming WeChat's problem; nothing written
    r = _confirm(approver, uid)
    assert r.status_code == 303
    assert any("标题超过32字" in m for m in _messages(approver, r.headers["location"]))
    assert dep.rt.service.deliveries(uid) == []
    # ticked without a reason: back to the page, nothing written
    r = _confirm(approver, uid, exclude="wechat")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/app/items/{uid}/approve")
    assert any("须说明理由" in m for m in _messages(approver, r.headers["location"]))
    assert dep.rt.service.deliveries(uid) == []
    # the form without the session's CSRF token is refused before anything runs
    r = approver.post(
        f"/app/items/{uid}/approve",
        data={"csrf": "forged", "confirm": "yes", "exclude": "wechat", "exclude_reason": REASON},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert dep.rt.service.deliveries(uid) == []

    # ticked with a reason: RSS goes out, WeChat waits excluded with the reason and the problem
    r = _confirm(approver, uid, exclude="wechat", exclude_reason=REASON)
    assert r.status_code == 303
    assert any("未投递 公众号" in m for m in _messages(approver, r.headers["location"]))
    wait_for(lambda: dep.state(uid, "rss") == "delivered", what="RSS delivered")
    held = dep.wechat_delivery(uid)
    assert held["state"] == "excluded"
    assert REASON in held["last_error"] and "标题超过32字" in held["last_error"]
    after_sweeps(dep.rt)  # each sweep would have sent anything due
    assert dep.state(uid, "wechat") == "excluded"
    assert wechat.state()["counters"]["api_calls"].get("draft/add", 0) == 0
    assert dep.rt.service.item_detail(uid)["delivery_status"] == "partially_published"

    # the audit log: who left which channel out, why, and the problem
    events = [e for e in dep.rt.service.audit_events(uid) if e["action"] == "delivery.exclude"]
    assert len(events) == 1 and events[0]["actor"] == "approver" and events[0]["reason"] == REASON
    assert events[0]["data"]["channel"] == "wechat" and "标题超过32字" in events[0]["data"]["problems"][0]
    log = BeautifulSoup(ops.get("/app/ops/audit", params={"item": uid}).text, "html.parser").get_text()
    assert "排除投递" in log and REASON in log

    # the dashboard: in the matrix and in the list of excluded deliveries; ops see no release
    board = BeautifulSoup(ops.get("/app/ops").text, "html.parser")
    cell = board.select_one(f'#matrix tr[data-uid="{uid}"] td[data-channel="wechat"]')
    assert cell["data-state"] == "excluded" and "审批时排除" in cell.get_text()
    listed = board.select_one(f'#excluded tr[data-delivery="{held["id"]}"]')
    assert listed is not None and REASON in listed.get_text()
    assert listed.select_one("button.release-one") is None
    # and a forged release by ops is refused by the service (the approver's decision)
    r = _release(ops, held["id"], "/app/ops")
    assert any("需要角色" in m for m in _messages(ops, "/app/ops"))
    assert dep.state(uid, "wechat") == "excluded"

    # the item's own page offers the release to approvers only
    item_page = BeautifulSoup(approver.get(f"/app/items/{uid}").text, "html.parser")
    assert item_page.select_one('#deliveries tr[data-channel="wechat"] button.release-one') is not None
    editor_page = BeautifulSoup(dep.login("editor").get(f"/app/items/{uid}").text, "html.parser")
    assert editor_page.select_one("#deliveries button.release-one") is None

    # the approver's release button: refused while the frozen version still has the problem
    board = BeautifulSoup(approver.get("/app/ops").text, "html.parser")
    assert board.select_one(f'#excluded tr[data-delivery="{held["id"]}"] button.release-one') is not None
    r = _release(approver, held["id"], "/app/ops")
    assert r.status_code == 303
    assert any("未放行" in m and "标题超过32字" in m for m in _messages(approver, "/app/ops"))
    assert dep.state(uid, "wechat") == "excluded"

    # the way out for a problem in the item: correct it and approve the new version, which
    # replaces the excluded delivery; WeChat then gets the corrected version
    editor, reviewer = dep.login("editor"), dep.login("reviewer")
    item = dep.rt.service.item_detail(uid)
    form = {"title": LONG_TITLE, "short_title": "关于规范政府购买服务预算管理的通知"}
    r = post(editor, f"/app/items/{uid}/edit", {**_edit_form(item), **form}, page=f"/app/items/{uid}/edit")
    assert r.status_code == 303, r.text
    assert post(editor, f"/app/items/{uid}/submit", page=f"/app/items/{uid}").status_code == 303
    assert post(reviewer, f"/app/items/{uid}/review", page=f"/app/items/{uid}").status_code == 303
    assert _confirm(approver, uid).status_code == 303
    assert dep.wechat_delivery(uid, version=1)["state"] == "superseded"
    wait_for(lambda: dep.wechat_delivery(uid, version=2)["state"] == "delivered", what="v2 on WeChat")
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 1
    board = BeautifulSoup(approver.get("/app/ops").text, "html.parser")
    assert board.select_one("#excluded") is None


def test_the_release_button_sends_an_excluded_delivery_once_the_channel_can_take_it(
    deploy: Deploy, wechat: RunningServer, image_host: ImageHost
) -> None:
    # given a cover from a host WeChat is not allowed to fetch from
    dep = deploy(hosts=["images.example.gov.cn"])
    uid = _ready(dep, cover_url=image_host.url("/img/cover.jpg"))
    approver = dep.login("approver")
    page = BeautifulSoup(approver.get(f"/app/items/{uid}/approve").text, "html.parser")
    assert "封面图片来源不在允许列表" in page.select_one("#approve-exclude").get_text()
    assert (
        _confirm(approver, uid, exclude="wechat", exclude_reason="封面图片待上传到允许的图床").status_code
        == 303
    )
    held = dep.wechat_delivery(uid)
    assert held["state"] == "excluded"

    # when the host is allowed (the file changed, the service restarted) and the approver
    # presses 放行 on the item's timeline
    assert dep.rt.executor is not None
    dep.rt.executor.stop()  # the old process is gone: only the restarted one may pick it up
    fixed = deploy(hosts=[image_host.netloc])
    approver = fixed.login("approver")
    timeline = f"/app/ops/items/{uid}"
    row = BeautifulSoup(approver.get(timeline).text, "html.parser").select_one(
        f'#deliveries tr[data-delivery="{held["id"]}"]'
    )
    assert row["data-state"] == "excluded" and row.select_one("button.release-one") is not None
    r = _release(approver, held["id"], timeline)
    assert r.status_code == 303 and r.headers["location"] == timeline
    assert any("已放行" in m for m in _messages(approver, timeline))

    # then it is delivered, once, and the release is audited
    wait_for(lambda: fixed.state(uid, "wechat") == "delivered", what="released, delivered")
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 1
    actions = [(e["action"], e["actor"]) for e in fixed.rt.service.audit_events(uid)]
    assert ("delivery.exclude", "approver") in actions and ("delivery.release", "approver") in actions


def test_in_a_release_group_the_page_names_the_member_with_the_problem_and_both_wait_for_wechat(
    deploy: Deploy, wechat: RunningServer
) -> None:
    dep = deploy(hosts=[])
    editor, reviewer, approver = dep.login("editor"), dep.login("reviewer"), dep.login("approver")
    policy = create(editor, title="关于预算绩效管理的通知", release_group="g-2026-9")
    interp = create(
        editor,
        type="interpretation",
        title=LONG_TITLE + "的解读",
        interprets=policy,
        release_group="g-2026-9",
    )
    for uid in (policy, interp):
        assert post(editor, f"/app/items/{uid}/submit", page=f"/app/items/{uid}").status_code == 303
        assert post(reviewer, f"/app/items/{uid}/review", page=f"/app/items/{uid}").status_code == 303

    # the page names the member whose WeChat title is too long
    box = BeautifulSoup(approver.get(f"/app/items/{policy}/approve").text, "html.parser").select_one(
        '#approve-exclude .exclude-channel[data-channel="wechat"]'
    )
    assert f"《{LONG_TITLE}的解读》" in box.get_text() and "《关于预算绩效管理的通知》" not in box.get_text()

    # leaving WeChat out leaves it out for the whole group, which goes out together elsewhere
    assert _confirm(approver, policy, exclude="wechat", exclude_reason=REASON).status_code == 303
    wait_for(lambda: dep.state(policy, "rss") == dep.state(interp, "rss") == "delivered", what="RSS")
    assert dep.state(policy, "wechat") == dep.state(interp, "wechat") == "excluded"
    board = BeautifulSoup(approver.get("/app/ops").text, "html.parser")
    assert len(board.select("#excluded tr[data-delivery]")) == 2
    assert wechat.state()["counters"]["api_calls"].get("draft/add", 0) == 0


def _edit_form(item: dict[str, Any]) -> dict[str, str]:
    """The editor form of a saved item as the page fills it (the fields create() posted)."""
    from tests.support import policy_form

    return policy_form(title=item["title"])
