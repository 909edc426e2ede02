"""Ops commands: the failed queue, replay, pause and resume, channel states."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from publisher.editorial.service import Service
from publisher.store.models import Delivery
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.support import publish


def test_failed_queue_replay_and_pause_resume(
    service: Service, team: Team, db_url: str, tmp_path: Path
) -> None:
    # given a published item whose cms delivery failed
    uid = publish(service, team)
    with service.db.transaction() as s:
        s.execute(
            update(Delivery).where(Delivery.channel == "cms").values(state="failed", last_error="HTTP 400")
        )
    env = cli_env(tmp_path, db_url)

    listed = run(env, "deliveries", "--state", "failed")
    assert listed.exit_code == 0 and "cms" in listed.output and "HTTP 400" in listed.output
    [failed] = [d for d in service.deliveries(uid) if d["channel"] == "cms"]

    # an editor may not replay; ops may, once; a second replay is refused with exit code 2
    assert run(env, "replay", str(failed["id"]), "--as", "editor").exit_code == 2
    assert run(env, "replay", str(failed["id"]), "--as", "ops").exit_code == 0
    assert [d["state"] for d in service.deliveries(uid) if d["channel"] == "cms"] == ["queued"]
    assert run(env, "replay", str(failed["id"]), "--as", "ops").exit_code == 2

    # pause holds nothing yet (the sweeper/engine does), resume releases what is held
    assert run(env, "channel", "pause", "cms", "--reason", "维护", "--as", "ops").exit_code == 0
    with service.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.channel == "cms").values(state="held"))
    out = run(env, "channel", "list")
    assert "cms" in out.output and "held=1" in out.output
    resumed = run(env, "channel", "resume", "cms", "--as", "ops")
    assert resumed.exit_code == 0 and "1" in resumed.output
    assert [d["state"] for d in service.deliveries(uid) if d["channel"] == "cms"] == ["queued"]
    actions = [e["action"] for e in service.audit_events()]
    assert "delivery.replay" in actions and "channel.pause" in actions and "channel.resume" in actions


def test_approve_excluding_a_channel_with_its_own_problem_and_release(
    service: Service, team: Team, db_url: str, tmp_path: Path
) -> None:
    from tests.samples import policy

    # given RSS and WeChat, and a title too long for WeChat with no short title
    config = tmp_path / "two-channels.toml"
    config.write_text(
        '[channels.rss]\nenabled = true\n[channels.wechat]\nenabled = true\nappid = "wx1"\n'
        'secret_env = "PUBLISHER_TEST_WECHAT_SECRET"\n',
        encoding="utf-8",
    )
    env = {**cli_env(tmp_path, db_url), "PUBLISHER_CONFIG": str(config), "PUBLISHER_TEST_WECHAT_SECRET": "s"}
    title = "上海市财政局关于进一步加强和规范政府购买服务预算管理有关事项的通知（修订）"
    uid = service.create_item(team.editor, policy(title=title)).uid
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)

    refused = run(env, "item", "approve", uid, "--as", "approver")
    assert refused.exit_code == 2 and "微信" in refused.output and service.deliveries(uid) == []

    too_long = run(
        env, "item", "approve", uid, "--exclude", "wechat", "--exclude-reason", "长" * 501, "--as", "approver"
    )
    assert too_long.exit_code == 2 and "exclude_reason" in too_long.output and service.deliveries(uid) == []
    reason = "短标题待确认"
    approved = run(
        env, "item", "approve", uid, "--exclude", "wechat", "--exclude-reason", reason, "--as", "approver"
    )
    assert approved.exit_code == 0, approved.output
    assert "排除 / excluded: wechat" in approved.output and reason in approved.output
    states = {d["channel"]: d["state"] for d in service.deliveries(uid)}
    assert states == {"rss": "queued", "wechat": "excluded"}
    [held] = [d for d in service.deliveries(uid) if d["channel"] == "wechat"]
    assert "标题超过32字" in held["last_error"] and reason in held["last_error"]

    # the problem is still there: release refuses it, naming it; ops may not release at all
    again = run(env, "release", str(held["id"]), "--as", "approver")
    assert again.exit_code == 2 and "标题超过32字" in again.output
    assert run(env, "release", str(held["id"]), "--as", "ops").exit_code == 2
    assert {d["channel"]: d["state"] for d in service.deliveries(uid)}["wechat"] == "excluded"
    [excluded] = [e for e in service.audit_events() if e["action"] == "delivery.exclude"]
    assert excluded["reason"] == reason and excluded["actor"] == "approver"
