"""The `publisher` command on SQLite and PostgreSQL: users, items, samples, serve, migrate."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from publisher.editorial.service import Service
from publisher.store.models import AuditEvent
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.samples import FIXTURES, policy
from tests.support import answering

Env = dict[str, str | None]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Env:
    return cli_env(tmp_path, db_url)


def audit_count(service: Service) -> int:
    with service.db.reader() as s:
        return int(s.execute(select(func.count(AuditEvent.id))).scalar_one())


def test_help_is_the_map(env: Env) -> None:
    result = run(env, "--help")
    assert result.exit_code == 0
    for command in ("serve", "migrate", "user", "item", "load-samples", "audit"):
        assert command in result.output
    result = run(env, "item", "--help")
    for command in ("create", "show", "list", "submit", "review", "approve", "reject", "abolish", "withdraw"):
        assert command in result.output


# -- users -----------------------------------------------------------------------------------------
def test_user_add_prints_a_token_that_authenticates(env: Env, service: Service) -> None:
    result = run(env, "user", "add", "alice", "--role", "editor")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("pub_")
    actor = service.authenticate(token)
    assert (actor.name, actor.role.value) == ("alice", "editor")

    result = run(env, "user", "add", "bob", "--role", "approver", "--json")
    data = json.loads(result.stdout)
    assert service.authenticate(data["token"]).name == "bob" and data["role"] == "approver"


def test_user_add_with_a_password_prompt(env: Env, service: Service) -> None:
    pw = "a long passphrase 口令"
    result = run(env, "user", "add", "carol", "--role", "reviewer", "--password", input=f"{pw}\n{pw}\n")
    assert result.exit_code == 0, result.output
    user = service.user_by_name("carol")
    assert user is not None and user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    # a password given as an argument is refused: it would sit in the shell history and `ps`
    result = run(env, "user", "add", "dave", "--role", "reviewer", "--password", pw)
    assert result.exit_code == 2 and service.user_by_name("dave") is None


def test_user_add_refuses_a_bad_role_and_a_duplicate(env: Env, service: Service) -> None:
    result = run(env, "user", "add", "dora", "--role", "boss")
    assert result.exit_code == 2 and "boss" in result.stderr
    assert run(env, "user", "add", "dora", "--role", "ops").exit_code == 0
    result = run(env, "user", "add", "dora", "--role", "ops")
    assert result.exit_code == 2
    assert "name" in result.stderr and "已存在" in result.stderr and "Traceback" not in result.output


# -- samples ---------------------------------------------------------------------------------------
def test_load_samples_loads_every_fixture_through_the_workflow_and_twice_is_a_no_op(
    env: Env, service: Service
) -> None:
    refs = [i["ref"] for i in json.loads(FIXTURES.read_text(encoding="utf-8"))["items"]]
    # when the samples are loaded into an empty store
    result = run(env, "load-samples")
    # then every item is published, each with a progress line, and the summary counts them
    assert result.exit_code == 0, result.output
    for n, ref in enumerate(refs, 1):
        assert f"[{n}/{len(refs)}] {ref}" in result.stdout
    assert f"新载入 {len(refs)}，跳过 0，失败 0" in result.stdout
    total, items = service.list_items(limit=100)
    assert total == len(refs) == 6
    by_ref = {i["ref"]: i for i in items}
    assert {i["state"] for i in items} == {"published"}
    # the notice abolishes the 2019 plan in the same release
    plan, notice = by_ref["policy-2019-plan"], by_ref["notice-abolish"]
    assert plan["validity"] == "已废止"
    assert service.item_detail(plan["uid"])["abolished_by"] == notice["uid"]
    assert plan["index_number"] == "AB1900010-2019-146"  # given in the fixture, kept
    # the policy and its interpretation were approved together, by the sample approver
    approvals = [e for e in service.audit_events(limit=1000) if e["action"] == "approve"]
    assert {e["actor"] for e in approvals} == {"sample-approver"}
    assert {
        e["data"]["group"] for e in approvals if e["item"] in (plan["uid"], by_ref["interp-2019-plan"]["uid"])
    } == {"g-2019-plan"}
    # the script tag of the notice's body was removed on input
    assert "<script" not in json.dumps(service.item_detail(notice["uid"])["content"])
    events = audit_count(service)

    # when it runs again, nothing changes
    again = run(env, "load-samples", "--json")
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["loaded"] == [] and sorted(report["skipped"]) == sorted(refs) and report["failed"] == []
    assert audit_count(service) == events
    assert service.list_items()[0] == 6


def test_load_samples_reports_a_bad_item_and_exits_2(env: Env, tmp_path: Path, service: Service) -> None:
    path = tmp_path / "items.json"
    path.write_text(
        json.dumps({"items": [policy(ref="ok-1"), policy(ref="bad-1", issue_date="2026/1/1")]}),
        encoding="utf-8",
    )
    result = run(env, "load-samples", "--file", str(path))
    assert result.exit_code == 2
    assert "issue_date" in result.stdout and "失败 1" in result.stdout
    assert [i["ref"] for i in service.list_items()[1]] == ["ok-1"]


# -- items -----------------------------------------------------------------------------------------
def test_item_create_with_bad_fields_exits_2_naming_each_field(
    env: Env, tmp_path: Path, service: Service, team: Team
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            policy(title="", issue_date="2026/11/20", doc_number="第十二号", colour="红"), ensure_ascii=False
        ),
        encoding="utf-8",
    )
    result = run(env, "item", "create", "--file", str(path), "--as", "editor")
    assert result.exit_code == 2
    for field in ("title", "issue_date", "doc_number", "colour"):
        assert f"- {field}: " in result.stderr
    assert "Traceback" not in result.output
    assert service.list_items()[0] == 0


def test_item_create_with_malformed_json_exits_2(
    env: Env, tmp_path: Path, service: Service, team: Team
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": "policy",\n "title": }', encoding="utf-8")
    result = run(env, "item", "create", "--file", str(path), "--as", "editor")
    assert result.exit_code == 2
    assert "JSON" in result.stderr and "第 2 行" in result.stderr
    assert service.list_items()[0] == 0


def test_item_workflow_from_the_command_line(env: Env, service: Service, team: Team) -> None:
    # create from stdin
    result = run(
        env,
        "item",
        "create",
        "--file",
        "-",
        "--as",
        "editor",
        "--json",
        input=json.dumps(policy(ref="cli-1")),
    )
    assert result.exit_code == 0, result.output
    uid = json.loads(result.stdout)["uid"]
    # submit, review, approve, by ref or uid
    assert run(env, "item", "submit", "cli-1", "--as", "editor").exit_code == 0
    assert run(env, "item", "review", uid, "--as", "reviewer").exit_code == 0
    result = run(env, "item", "approve", uid, "--as", "approver")
    assert result.exit_code == 0, result.output
    assert "已发布" in result.stdout and "AB1900010-" in result.stdout
    shown = json.loads(run(env, "item", "show", "cli-1", "--json").stdout)
    assert shown["state"] == "published" and shown["uid"] == uid and shown["deliveries"] == []
    assert "《关于进一步规范财政资金管理的通知》" in run(env, "item", "show", uid).stdout
    listed = json.loads(run(env, "item", "list", "--state", "published", "--json").stdout)
    assert listed["total"] == 1 and listed["items"][0]["uid"] == uid
    assert uid in run(env, "item", "list", "-q", "规范").stdout

    # abolish: a bad date is exit 2 naming the field; a good one changes validity
    result = run(env, "item", "abolish", uid, "--date", "2026/12/31", "--as", "approver")
    assert result.exit_code == 2 and "- date:" in result.stderr
    assert run(env, "item", "abolish", uid, "--date", "2026-12-31", "--as", "approver").exit_code == 0
    assert service.item_detail(uid)["validity"] == "已废止"
    # withdraw
    assert run(env, "item", "withdraw", uid, "--reason", "内容有误", "--as", "approver").exit_code == 0
    assert service.item_detail(uid)["state"] == "withdrawn"
    actions = [e["action"] for e in service.audit_events(uid)]
    assert actions == ["create", "submit", "review", "approve", "validity", "withdraw"]


def test_refusals_exit_2_with_the_reason(env: Env, service: Service, team: Team) -> None:
    uid = service.create_item(team.admin, policy()).uid
    # no acting user
    result = run(env, "item", "submit", uid)
    assert result.exit_code == 2 and "--as" in result.stderr
    # unknown user, unknown item
    assert run(env, "item", "submit", uid, "--as", "nobody").exit_code == 2
    result = run(env, "item", "show", "no-such-item")
    assert result.exit_code == 2 and "not found" in result.stderr
    # wrong role: 403
    result = run(env, "item", "review", uid, "--as", "editor")
    assert result.exit_code == 2
    assert run(env, "item", "submit", uid, "--as", "admin").exit_code == 0
    result = run(env, "item", "review", uid, "--as", "editor")
    assert result.exit_code == 2 and "permission denied" in result.stderr
    # wrong state: 409, naming the current state
    result = run(env, "item", "submit", uid, "--as", "admin")
    assert result.exit_code == 2 and "in_review" in result.stderr
    # the author never approves their own item
    assert run(env, "item", "review", uid, "--as", "reviewer").exit_code == 0
    result = run(env, "item", "approve", uid, "--as", "admin")
    assert result.exit_code == 2 and "自己" in result.stderr
    # reject needs a reason; with one it goes back to draft
    result = run(env, "item", "reject", uid, "--reason", " ", "--as", "approver")
    assert result.exit_code == 2 and "- reason:" in result.stderr
    assert run(env, "item", "reject", uid, "--reason", "文号有误", "--as", "approver").exit_code == 0
    assert service.item_detail(uid)["state"] == "draft"
    assert "Traceback" not in result.output


def test_acting_user_from_the_environment(env: Env, service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy()).uid
    assert run({**env, "PUBLISHER_USER": "editor"}, "item", "submit", uid).exit_code == 0
    assert service.item_detail(uid)["state"] == "in_review"


# -- migrate and serve -----------------------------------------------------------------------------
def test_commands_on_an_empty_database_ask_for_migrate(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fresh.db'}")
    result = run(env, "item", "list")
    assert result.exit_code == 2 and "publisher migrate" in result.stderr
    result = run(env, "migrate")
    assert result.exit_code == 0 and "head" in result.stdout
    assert run(env, "item", "list").exit_code == 0


def test_config_option_names_the_settings_file(tmp_path: Path, db_url: str) -> None:
    env = cli_env(tmp_path, db_url)
    config = env.pop("PUBLISHER_CONFIG")
    assert config is not None
    env["PUBLISHER_CONFIG"] = None  # restored by the runner after --config sets it
    result = run(env, "--config", config, "user", "add", "erin", "--role", "ops")
    assert result.exit_code == 0
    result = run(env, "--config", str(tmp_path / "missing.toml"), "item", "list")
    assert result.exit_code == 2 and "missing.toml" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_api_over_real_http(env: Env, tmp_path: Path) -> None:
    token = json.loads(run(env, "user", "add", "frank", "--role", "editor", "--json").stdout)["token"]
    port = _free_port()
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    proc_env.update({k: v for k, v in env.items() if v is not None})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from publisher.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=proc_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        answering(f"{base}/healthz", proc, 30)
        r = httpx.post(f"{base}/api/items", json=policy(), headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201
        r = httpx.get(f"{base}/api/items", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["total"] == 1
        assert httpx.get(f"{base}/api/items").status_code == 401
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
