"""Audit-log tamper detection through `publisher audit verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from publisher.editorial import audit
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.samples import policy

Env = dict[str, str | None]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Env:
    return cli_env(tmp_path, db_url)


# the team fixture's accounts: each is a user.add audit event before anything else
USERS = len(Team.__dataclass_fields__) - 1


@pytest.fixture
def history(service: Service, team: Team) -> list[dict[str, object]]:
    """Eight events after the team's accounts (one user.add each, seq 1..USERS): create,
    submit, reject (with a reason), submit, review, approve, create, submit."""
    assert [e["action"] for e in service.audit_events()] == ["user.add"] * USERS
    uid = service.create_item(team.editor, policy()).uid
    service.submit(team.editor, uid)
    service.reject(team.reviewer, uid, "请补充附件")
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    service.approve(team.approver, uid)
    other = service.create_item(team.editor, policy(title="另一份通知")).uid
    service.submit(team.editor, other)
    events = service.audit_events()[USERS:]
    assert [e["seq"] for e in events] == list(range(USERS + 1, USERS + 9))
    return events


def sql(service: Service, statement: str, **params: object) -> None:
    with service.db.transaction() as s:
        s.execute(text(statement), params)


def test_intact_log_exits_0(env: Env, history: list[dict[str, object]]) -> None:
    result = run(env, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "审计日志完好" in result.stdout and str(USERS + 8) in result.stdout
    data = json.loads(run(env, "audit", "verify", "--json").stdout)
    assert data == {"checked": USERS + 8, "intact": True, "problems": []}


def test_an_edited_reason_is_reported(env: Env, service: Service, history: list[dict[str, object]]) -> None:
    # given someone rewrites the reason of the rejection directly in the database
    reject = next(e for e in history if e["action"] == "reject")
    sql(service, "UPDATE audit_events SET reason = :r WHERE seq = :seq", r="无", seq=reject["seq"])
    # when the log is verified, then that event is named as edited
    result = run(env, "audit", "verify")
    assert result.exit_code == 1
    assert f"事件 / event {reject['seq']}: contents do not match the hash" in result.stderr
    data = json.loads(run(env, "audit", "verify", "--json").stdout)
    assert data["intact"] is False and [p["seq"] for p in data["problems"]] == [reject["seq"]]


def test_a_deleted_middle_event_is_reported(
    env: Env, service: Service, history: list[dict[str, object]]
) -> None:
    middle = USERS + 4
    sql(service, "DELETE FROM audit_events WHERE seq = :seq", seq=middle)
    result = run(env, "audit", "verify")
    assert result.exit_code == 1
    assert f"events {middle}..{middle} are missing" in result.stderr
    assert f"event {middle + 1}: link to the previous event is broken" in result.stderr


def test_a_deleted_last_event_is_reported(
    env: Env, service: Service, history: list[dict[str, object]]
) -> None:
    last = USERS + 8
    sql(service, "DELETE FROM audit_events WHERE seq = :seq", seq=last)
    result = run(env, "audit", "verify")
    assert result.exit_code == 1
    assert f"the chain ends at {last - 1} but its head says {last}" in result.stderr


def test_audit_list_shows_the_events(env: Env, service: Service, history: list[dict[str, object]]) -> None:
    uid = str(history[0]["item"])
    result = run(env, "audit", "list", "--item", uid, "--json")
    assert result.exit_code == 0
    assert [e["action"] for e in json.loads(result.stdout)] == [
        "create",
        "submit",
        "reject",
        "submit",
        "review",
        "approve",
    ]
    assert "请补充附件" in run(env, "audit", "list").stdout


@pytest.mark.parametrize(
    "fields",
    [
        {
            "at": "2026-11-28T07:00:00+00:00",
            "actor": "审批人",
            "action": "approve",
            "item_uid": "01J",
            "reason": None,
            "version_hash": "ab" * 32,
            "data": {"seq": 0, "channels": ["rss", "cms"], "备注": '"seq":1,'},
        },
        {
            "at": "2026-11-28T07:00:00+00:00",
            "actor": "ops",
            "action": "breaker_open",
            "item_uid": None,
            "reason": 'x","seq":9,"version_hash":null}',
            "version_hash": None,
            "data": None,
        },
    ],
)
@pytest.mark.parametrize("seq", [1, 42, 10_000_000_001])
def test_the_database_hashes_the_same_text_as_verify(fields: dict[str, object], seq: int) -> None:
    # given an event split around its seq, which only the database knows at insert time
    pre, post = audit.hashed_text_parts(fields)
    # then the text the database hashes is exactly what verify hashes
    prev = "f" * 64
    assert prev + pre + str(seq) + post == prev + audit.canonical({**fields, "seq": seq})


def test_appended_hashes_match_verify_and_the_head(
    service: Service, history: list[dict[str, object]]
) -> None:
    # given events appended by the one-statement INSERT (the database computed their hashes)
    with service.db.reader() as s:
        head = s.execute(text("SELECT seq, hash FROM audit_head")).one()
        rows = s.execute(text("SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq")).all()
    # then each links to the one before, the head is the last, and verify agrees
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert rows[0].prev_hash == audit.GENESIS
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash) == (USERS + 8, rows[-1].hash)
    assert service.verify_audit() == (USERS + 8, [])
