"""The cms channel through the ledger against the real local WordPress
(scripts/setup-wordpress.sh): approve -> embedded executor -> delivered, and bad credentials
holding deliveries on a paused channel until the secret is fixed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Any

import httpx
import pytest

from publisher.delivery.executor import EmbeddedExecutor
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings
from tests.conftest import Team
from tests.samples import policy
from tests.support import after_sweeps, ops, settled
from tests.support import approve_existing as approve
from tests.support import wait_for as _wait_for
from tests.wordpress_support import *  # noqa: F403  (fixtures: wordpress, admin, uids)
from tests.wordpress_support import WordPress, posts_for

# WordPress on a loaded machine answers slower than the stand-ins
wait_for = partial(_wait_for, timeout=30.0)

pytestmark = pytest.mark.wordpress

PASSWORD_ENV = "PUBLISHER_TEST_WP_APP_PASSWORD"
FAST = {
    "retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 5},
    "confirm_interval_seconds": 0.1,
}


@pytest.fixture
def make_runtime(settings: Settings, team: Team, wordpress: WordPress) -> Iterator[Callable[[], Runtime]]:
    """Runtimes over the test's store with only the cms channel; the password comes from
    PASSWORD_ENV as it is set when the runtime is built."""
    made: list[Runtime] = []
    section: dict[str, Any] = {
        "enabled": True,
        **FAST,
        "base_url": wordpress.url,
        "user": wordpress.user,
        "app_password_env": PASSWORD_ENV,
    }

    def make() -> Runtime:
        rt = build_runtime(settings.replace(channels={"cms": dict(section)}))
        made.append(rt)
        use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=2, sweep_interval=0.05))
        rt.start()
        return rt

    yield make
    for rt in made:
        rt.close()


def in_state(rt: Runtime, uid: str, state: str) -> bool:
    return [s for _op, s in ops(rt, uid)] == [state]


def test_publish_abolish_withdraw_of_a_policy(
    make_runtime: Callable[[], Runtime],
    team: Team,
    wordpress: WordPress,
    admin: httpx.Client,
    uids: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, wordpress.app_password)
    rt = make_runtime()
    svc = rt.service
    uid = svc.create_item(team.editor, policy()).uid
    uids.append(uid)
    approve(rt, team, uid)
    wait_for(partial(settled, rt, uid, 1))
    assert ops(rt, uid) == [("publish", "delivered")]
    [post] = posts_for(admin, uid)
    [d] = svc.deliveries(uid)
    assert d["external_id"] == str(post["id"]) and d["url"] == post["link"]
    assert post["status"] == "publish" and post["title"]["raw"] == policy()["title"]
    assert post["meta"]["index_number"] == svc.item_detail(uid)["index_number"]
    assert post["meta"]["validity"] == "有效" and post["meta"]["publisher_version"] == 1
    assert httpx.get(post["link"], follow_redirects=True, timeout=30).status_code == 200

    svc.abolish(team.approver, uid, on=date(2026, 12, 1))
    wait_for(partial(settled, rt, uid, 2))
    assert ops(rt, uid) == [("publish", "delivered"), ("update", "delivered")]
    [post] = posts_for(admin, uid)  # the same post, updated in place
    assert str(post["id"]) == d["external_id"] and post["status"] == "publish"
    assert post["meta"]["validity"] == "已废止" and post["meta"]["validity_changed_on"] == "2026-12-01"
    assert post["meta"]["publisher_version"] == 2
    assert "本文件已废止（2026-12-01起）" in post["content"]["raw"]

    svc.withdraw(team.approver, uid, "误发，撤回 / published in error")
    wait_for(partial(settled, rt, uid, 3))
    assert ops(rt, uid) == [("publish", "delivered"), ("update", "delivered"), ("withdraw", "delivered")]
    [post] = posts_for(admin, uid)
    assert str(post["id"]) == d["external_id"] and post["status"] == "trash"
    assert httpx.get(post["link"], follow_redirects=True, timeout=30).status_code == 404
    assert svc.item_detail(uid)["delivery_status"] == "withdrawn"


def test_bad_credentials_hold_and_pause_until_fixed(
    make_runtime: Callable[[], Runtime],
    team: Team,
    wordpress: WordPress,
    admin: httpx.Client,
    uids: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "abcd efgh ijkl mnop qrst uvwx")
    rt = make_runtime()
    first = rt.service.create_item(team.editor, policy()).uid
    uids.append(first)
    approve(rt, team, first)
    wait_for(partial(in_state, rt, first, "held"))
    [d] = rt.service.deliveries(first)
    assert "401" in d["last_error"]
    [attempt] = rt.service.attempts(d["id"])
    assert attempt["outcome"] == "config" and attempt["http_status"] == 401
    pauses = [e for e in rt.service.audit_events() if e["action"] == "channel.pause"]
    assert len(pauses) == 1 and pauses[0]["data"] == {"channel": "cms"} and pauses[0]["reason"]
    # a second item approved while the channel is paused waits too: nothing sent, nothing lost
    second = rt.service.create_item(team.editor, policy(title="关于加强预算绩效管理的通知")).uid
    uids.append(second)
    approve(rt, team, second)
    wait_for(partial(in_state, rt, second, "held"))
    after_sweeps(rt)
    assert rt.service.attempts(d["id"]) == [attempt]
    assert posts_for(admin, first) == [] and posts_for(admin, second) == []

    # ops fix the secret: a restarted service still holds both, and resuming sends them
    rt.close()
    monkeypatch.setenv(PASSWORD_ENV, wordpress.app_password)
    fixed = make_runtime()
    assert ops(fixed, first) == [("publish", "held")] and ops(fixed, second) == [("publish", "held")]
    fixed.engine.resume("cms", "ops")
    for uid in (first, second):
        wait_for(partial(in_state, fixed, uid, "delivered"))
        [post] = posts_for(admin, uid)
        assert post["status"] == "publish"
        assert fixed.service.deliveries(uid)[0]["external_id"] == str(post["id"])
    assert [a["outcome"] for a in fixed.service.attempts(d["id"])] == ["config", "success"]
    assert any(e["action"] == "channel.resume" for e in fixed.service.audit_events())


def test_waiting_deliveries_go_out_in_one_batch(
    settings: Settings,
    team: Team,
    wordpress: WordPress,
    admin: httpx.Client,
    uids: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: six items approved while no executor runs (their deliveries wait, queued)
    monkeypatch.setenv(PASSWORD_ENV, wordpress.app_password)
    section = {
        "enabled": True,
        **FAST,
        "base_url": wordpress.url,
        "user": wordpress.user,
        "app_password_env": PASSWORD_ENV,
    }
    rt = build_runtime(settings.replace(channels={"cms": section}))
    try:
        for n in range(6):
            uid = rt.service.create_item(
                team.editor, policy(title=f"关于规范财政资金管理的通知（第{n + 1}批）")
            ).uid
            uids.append(uid)
            approve(rt, team, uid)
        # when: the executor starts; a worker takes what waits, up to the batch size
        use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=2, sweep_interval=0.05))
        rt.start()
        for uid in uids:
            wait_for(partial(in_state, rt, uid, "delivered"))
        # then: one post per item, live, each delivery with one successful attempt, and
        # attempts sharing one start (written by the same /batch/v1 request)
        starts = []
        for uid in uids:
            [post] = posts_for(admin, uid)
            [d] = rt.service.deliveries(uid)
            assert d["external_id"] == str(post["id"]) and post["status"] == "publish"
            [attempt] = rt.service.attempts(d["id"])
            assert attempt["outcome"] == "success"
            starts.append(attempt["started_at"])
        assert len(set(starts)) < len(starts), starts
    finally:
        rt.close()
