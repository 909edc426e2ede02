"""`publisher item check|accept` and `publisher checks …` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.samples import policy

Env = dict[str, str | None]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Env:
    return cli_env(tmp_path, db_url)


def in_review(service: Service, team: Team, body: str) -> str:
    item = service.create_item(team.editor, policy(body_html=body))
    service.submit(team.editor, item.uid)
    return item.uid


def test_item_check_prints_a_readable_table_and_exits_1_when_it_blocks(
    env: Env, service: Service, team: Team
) -> None:
    uid = in_review(service, team, "<p>深入开展扫黑险恶专项斗争，推进一带一路战略。</p>")
    result = run(env, "item", "check", uid)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split()[:4] == ["级别", "规则", "字段", "位置"]
    assert any(line.startswith("须改正") and "wording.wrong" in line and "扫黑除恶" in line for line in lines)
    assert any(line.startswith("提醒") and "wording.normative" in line for line in lines)
    assert "阻止批准的问题 2 个" in result.stdout

    report = json.loads(run(env, "item", "check", uid, "--json").stdout)
    assert report["blocking"] == 2 and report["item"]["uid"] == uid
    warn = next(p for p in report["problems"] if p["severity"] == "warn")

    accepted = run(env, "item", "accept", uid, warn["key"][:12], "--reason", "原文引用", "--as", "reviewer")
    assert accepted.exit_code == 0, accepted.output
    after = json.loads(run(env, "item", "check", uid, "--json").stdout)
    assert after["blocking"] == 1 and after["counts"]["accepted"] == 1


def test_item_check_passes_a_clean_item(env: Env, service: Service, team: Team) -> None:
    uid = in_review(service, team, "<p>深入开展扫黑除恶专项斗争。</p>")
    result = run(env, "item", "check", uid)
    assert result.exit_code == 0 and "未发现问题" in result.stdout and "可以批准" in result.stdout


def test_ops_maintain_the_dictionary_and_register(
    env: Env, service: Service, team: Team, tmp_path: Path
) -> None:
    refused = run(env, "checks", "word", "add", "示范词", "--kind", "forbidden", "--as", "editor")
    assert refused.exit_code == 2 and "ops" in refused.output
    added = run(
        env, "checks", "word", "add", "示范词", "--kind", "forbidden", "--note", "测试", "--as", "ops"
    )
    assert added.exit_code == 0 and "v1" in added.stdout
    file = tmp_path / "more.tsv"
    file.write_text(
        "# 补充\nwrong\t甲乙丙\t甲乙丁\t\t\nnormative\t示例说法\t规范说法\twarn\t\n", encoding="utf-8"
    )
    assert run(env, "checks", "words-import", str(file), "--as", "ops").exit_code == 0
    listing = json.loads(run(env, "checks", "words", "--json").stdout)
    assert [e["term"] for e in listing["entries"]] == ["示范词", "甲乙丙", "示例说法"] and listing[
        "version"
    ] == 3
    assert run(env, "checks", "word", "remove", "再接再励", "--as", "ops").exit_code == 0  # a starter entry
    shown = run(env, "checks", "words", "--all").stdout
    assert "再接再励" in shown and "off" in shown

    person = run(
        env, "checks", "person", "add", "王明", "--title", "局长", "--from", "2020-01-01", "--as", "ops"
    )
    assert person.exit_code == 0, person.output
    people = json.loads(run(env, "checks", "people", "--json").stdout)
    assert people["entries"][0]["title"] == "局长"
    bad = run(
        env, "checks", "person", "add", "王明", "--title", "局长", "--from", "2020-13-01", "--as", "ops"
    )
    assert bad.exit_code == 2
    assert (
        run(env, "checks", "person", "remove", str(people["entries"][0]["id"]), "--as", "ops").exit_code == 0
    )
    assert json.loads(run(env, "checks", "people", "--json").stdout)["entries"] == []


def test_a_refused_approval_names_the_item_field_and_rule(env: Env, service: Service, team: Team) -> None:
    uid = in_review(service, team, "<p>深入开展扫黑险恶专项斗争。</p>")
    service.review(team.reviewer, uid)
    result = run(env, "item", "approve", uid, "--as", "approver")
    assert result.exit_code == 2
    assert "《关于进一步规范财政资金管理的通知》正文：“扫黑险恶”为错误表述，应为“扫黑除恶”" in result.output
    assert "[wording.wrong]" in result.output and "body_html" not in result.output


def test_hostile_input_to_the_ops_commands_is_refused_never_a_traceback(
    env: Env, service: Service, team: Team, tmp_path: Path
) -> None:
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\xff\xfe\x00wrong\t\xe7")
    out = run(env, "checks", "words-import", str(binary), "--as", "ops")
    assert out.exit_code == 1 and "UTF-8" in out.output and "Traceback" not in out.output
    control = tmp_path / "control.tsv"
    control.write_text("forbidden\t甲\x01乙\n", encoding="utf-8")
    out = run(env, "checks", "words-import", str(control), "--as", "ops")
    assert out.exit_code == 2 and "控制字符" in out.output
    out = run(env, "checks", "word", "add", "a\x01b", "--kind", "forbidden", "--as", "ops")
    assert out.exit_code == 2 and "term" in out.output
    out = run(env, "checks", "person", "remove", "99999999999999999999999", "--as", "ops")
    assert out.exit_code == 2 and "Traceback" not in out.output
    out = run(
        env,
        "checks",
        "person",
        "add",
        "王明",
        "--title",
        "局长",
        "--from",
        "2020-01-01",
        "--to",
        "x",
        "--as",
        "ops",
    )
    assert out.exit_code == 2 and "valid_to" in out.output
    assert json.loads(run(env, "checks", "words", "--json").stdout)["version"] == 0  # nothing written
