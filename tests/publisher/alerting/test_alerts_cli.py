"""Alerts from the CLI: `publisher compliance check` records its alerts in its own transaction
and `publisher alerts send` (another process in real life) tells them; silences from the
command line, audited; bad input is exit code 2 with the field named."""

from __future__ import annotations

import json
from pathlib import Path

from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.publisher.compliance.support import draft
from tests.receiver import SECRET, Receiver
from tests.samples import policy


def test_compliance_check_from_the_cli_is_alerted_as_overdue(
    service: Service, team: Team, db_url: str, tmp_path: Path, alerts_rx: Receiver
) -> None:
    # given a draft formed long ago: its 20-working-day clock is overdue
    uid = draft(service, team, policy(formed_at="2024-09-25", title="逾期未公开的通知"))
    env = {
        **cli_env(tmp_path, db_url),
        "PUBLISHER_ALERTS_WEBHOOKS": json.dumps([alerts_rx.url]),
        "PUBLISHER_ALERTS_WEBHOOK_SECRET": SECRET,
        "PUBLISHER_ALERTS_GROUP_WAIT_SECONDS": "0.001",
    }
    # when ops run the checks from the command line, and the alert clock runs
    assert run(env, "compliance", "check", "--as", "ops").exit_code == 0
    assert alerts_rx.hits == []  # recorded, not sent by the check itself
    sent = run(env, "alerts", "send", "--as", "ops")
    assert sent.exit_code == 0 and "sent 1" in sent.output
    # then ops are told it is overdue (never "临近"), with the item's title and uid
    [hit] = alerts_rx.hits
    body = hit.body
    assert hit.signature_ok and body["kind"] == "deadline.overdue"
    assert "公开时限已超期" in body["title"] and "临近" not in body["text"]
    # the text carries the deadline itself, not only the title
    sample = body["samples"][0]
    assert (
        f"期限 {sample['due_on']}" in body["text"]
        and f"剩余工作日 {sample['working_days_left']}" in body["text"]
    )
    assert "逾期未公开的通知" in body["text"] and sample["working_days_left"] < 0
    assert body["items"] == [{"uid": uid, "title": "逾期未公开的通知"}]
    listed = json.loads(run(env, "alerts", "list", "--json").output)
    assert [g["kind"] for g in listed["firing"]] == ["deadline.overdue"]
    assert [n["status"] for n in listed["recent"]] == ["sent"]


def test_silence_and_unsilence_from_the_cli(
    service: Service, team: Team, db_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, db_url)
    bad = run(
        env,
        "alerts",
        "silence",
        "--kind",
        "nope",
        "--channel",
        "cms",
        "--for",
        "2h",
        "--reason",
        "x",
        "--as",
        "ops",
    )
    assert bad.exit_code == 2 and "kind" in bad.output
    assert (
        run(
            env, "alerts", "silence", "--channel", "cms", "--for", "2 hours", "--reason", "x", "--as", "ops"
        ).exit_code
        == 2
    )
    denied = run(
        env, "alerts", "silence", "--channel", "cms", "--for", "2h", "--reason", "维护", "--as", "editor"
    )
    assert denied.exit_code == 2
    made = run(
        env,
        "alerts",
        "silence",
        "--channel",
        "cms",
        "--for",
        "2h",
        "--reason",
        "维护窗口",
        "--as",
        "ops",
        "--json",
    )
    assert made.exit_code == 0
    silence = json.loads(made.output)
    assert silence["channel"] == "cms" and silence["kind"] == "*" and silence["active"]
    listed = run(env, "alerts", "list")
    assert "维护窗口" in listed.output and "生效的静默 / active silences: 1" in listed.output
    assert run(env, "alerts", "unsilence", str(silence["id"]), "--as", "ops").exit_code == 0
    assert run(env, "alerts", "unsilence", str(silence["id"]), "--as", "ops").exit_code == 2
    assert "active silences: 0" in run(env, "alerts", "list").output
    actions = [e["action"] for e in service.audit_events()]
    assert "alert.silence" in actions and "alert.unsilence" in actions
