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
