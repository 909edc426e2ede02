"""An audit chain a database writer cannot silently rewrite: keyed hashes (HMAC under a key
outside the database) and signed anchors, through `publisher audit verify|anchor|seal` on
SQLite and PostgreSQL.

The attacker here can run any SQL: they rewrite an event and recompute every plain hash after
it and the head, which the unkeyed chain cannot notice (shown first, so the test proves the
attack is real)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import text

from publisher.editorial import audit
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service
from publisher.settings import Settings
from publisher.store.db import Database
from tests.publisher.cli_support import cli_env, run
from tests.samples import policy
from tests.security.origin import serve

Env = dict[str, str | None]
KEY = "k" * 16 + "0123456789abcdef0123456789abcdef"
NEW_KEY = "n" * 16 + "fedcba9876543210fedcba9876543210"


def service_with(settings: Settings, **audit_settings: object) -> Service:
    """A service whose database keys what it appends, as build_runtime wires it."""
    service = Service(Database(settings.db_url), settings.replace(audit=audit_settings))
    service.db.use_audit_keys(service.audit_keys)
    return service


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv("PUBLISHER_TEST_AUDIT_KEY", KEY)
    service = service_with(settings, key_env="PUBLISHER_TEST_AUDIT_KEY")
    yield service
    service.db.dispose()


@pytest.fixture
def team(keyed: Service) -> Team:
    """The users, made through the keyed service (so any event they cause is keyed too)."""
    actors = {}
    for name in ("editor", "reviewer", "approver", "admin"):
        actors[name] = keyed.add_user(name, name)[0]
    # adding an account is an audit event (user.add); these tests number the events of their
    # history from 1, so the log starts empty after the team is made
    with keyed.db.transaction() as s:
        s.execute(text("DELETE FROM audit_events"))
        s.execute(text("UPDATE audit_head SET seq = 0, hash = :g WHERE id = 1"), {"g": audit.GENESIS})
    return Team(**actors)


@dataclass
class Team:
    editor: Actor
    reviewer: Actor
    approver: Actor
    admin: Actor


@pytest.fixture
def env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("PUBLISHER_TEST_AUDIT_KEY", KEY)
    return {**cli_env(tmp_path, db_url), "PUBLISHER_AUDIT_KEY_ENV": "PUBLISHER_TEST_AUDIT_KEY"}


def history(service: Service, team: Team, title: str = "关于进一步规范财政资金管理的通知") -> None:
    """Five events: create, submit, reject (with a reason), submit, review."""
    uid = service.create_item(team.editor, policy(title=title)).uid
    service.submit(team.editor, uid)
    service.reject(team.reviewer, uid, "请补充附件")
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)


def rewrite(db: Database, seq: int, reason: str) -> None:
    """What a database writer does: change an event, then recompute its plain hash, every
    later link and hash, and the head, so the unkeyed chain verifies again."""
    with db.transaction() as s:
        s.execute(text("UPDATE audit_events SET reason = :r WHERE seq = :seq"), {"r": reason, "seq": seq})
        rows = s.execute(
            text(
                "SELECT seq, at, actor, action, item_uid, version_hash, reason, data FROM audit_events "
                "WHERE seq >= :seq ORDER BY seq"
            ),
            {"seq": seq},
        ).all()
        prev = s.execute(text("SELECT hash FROM audit_events WHERE seq = :p"), {"p": seq - 1}).scalar_one()
        for row in rows:
            ev = s.get(
                audit.AuditEvent,
                s.execute(text("SELECT id FROM audit_events WHERE seq = :q"), {"q": row.seq}).scalar_one(),
            )
            assert ev is not None
            digest = audit.event_hash(prev, audit._fields(ev))
            s.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :q"),
                {"p": prev, "h": digest, "q": row.seq},
            )
            prev = digest
        s.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


def cut(db: Database, keep: int) -> None:
    """Drop the tail after `keep` and make the head agree: invisible without an anchor."""
    with db.transaction() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
        h = s.execute(text("SELECT hash FROM audit_events WHERE seq = :k"), {"k": keep}).scalar_one()
        s.execute(text("UPDATE audit_head SET seq = :k, hash = :h WHERE id = 1"), {"k": keep, "h": h})


def test_a_rewrite_with_recomputed_plain_hashes_is_detected(keyed: Service, team: Team, env: Env) -> None:
    history(keyed, team)
    rewrite(keyed.db, 3, "无")
    # the attack is real: the plain chain verifies
    with keyed.db.reader() as s:
        assert audit.verify(s) == (5, [])
    # the keyed chain names the rewritten event and every event whose hash was recomputed
    checked, problems = keyed.verify_audit()
    assert checked == 5 and [p.seq for p in problems] == [3, 4, 5]
    assert all("keyed hash does not match" in p.problem for p in problems)
    result = run(env, "audit", "verify")
    assert result.exit_code == 1 and "event 3: the keyed hash does not match" in result.stderr


def test_a_removed_keyed_hash_is_detected(keyed: Service, team: Team) -> None:
    history(keyed, team)
    with keyed.db.transaction() as s:
        s.execute(text("UPDATE audit_events SET mac = NULL WHERE seq = 2"))
    assert [p.seq for p in keyed.verify_audit()[1]] == [2]


def test_an_anchor_from_before_still_verifies_after_more_events(
    keyed: Service, team: Team, env: Env, tmp_path: Path
) -> None:
    history(keyed, team)
    anchor = tmp_path / "anchor.json"
    result = run(env, "audit", "anchor", "-o", str(anchor))
    assert result.exit_code == 0, result.output
    data = json.loads(anchor.read_text(encoding="utf-8"))
    assert data["seq"] == 5 and data["key_id"] == audit.key_id(KEY.encode()) and KEY not in anchor.read_text()
    history(keyed, team, "另一份通知")  # five more events
    result = run(env, "audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 0, result.output
    assert "10" in result.stdout


def test_a_cut_chain_fails_against_its_anchor(keyed: Service, team: Team, env: Env, tmp_path: Path) -> None:
    history(keyed, team)
    history(keyed, team, "另一份通知")
    anchor = tmp_path / "anchor.json"
    assert run(env, "audit", "anchor", "-o", str(anchor)).exit_code == 0
    cut(keyed.db, 7)
    # without the anchor the cut is consistent: every remaining event is keyed and linked
    assert keyed.verify_audit() == (7, [])
    result = run(env, "audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1
    assert "the chain ends at 7, before the anchored event 10 (events cut)" in result.stderr


def test_a_rewrite_below_the_anchor_fails_it(keyed: Service, team: Team, env: Env, tmp_path: Path) -> None:
    history(keyed, team)
    anchor = tmp_path / "anchor.json"
    assert run(env, "audit", "anchor", "-o", str(anchor)).exit_code == 0
    rewrite(keyed.db, 2, "改写")
    result = run(env, "audit", "verify", "--anchor", str(anchor), "--json")
    problems = json.loads(result.stdout)["problems"]
    assert result.exit_code == 1
    assert any("no longer extends the anchored head" in p["problem"] for p in problems)


def test_a_forged_anchor_is_refused(keyed: Service, team: Team, env: Env, tmp_path: Path) -> None:
    history(keyed, team)
    anchor = tmp_path / "anchor.json"
    assert run(env, "audit", "anchor", "-o", str(anchor)).exit_code == 0
    data = json.loads(anchor.read_text(encoding="utf-8"))
    cut(keyed.db, 3)
    # the writer makes an anchor for the cut chain, without the key
    forged = {**data, "seq": 3, "hash": keyed.audit_events()[2]["hash"]}
    anchor.write_text(json.dumps(forged), encoding="utf-8")
    result = run(env, "audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and "the anchor's signature is not valid" in result.stderr
    anchor.write_text("[1, 2]", encoding="utf-8")
    assert run(env, "audit", "verify", "--anchor", str(anchor)).exit_code == 2


def test_events_from_before_the_key_are_sealed_once(keyed: Service, team: Team, env: Env) -> None:
    plain = service_with(keyed.settings)
    history(plain, team)  # written without a key
    plain.db.dispose()
    problems = keyed.verify_audit()[1]
    assert [p.seq for p in problems] == [1, 2, 3, 4, 5] and "no keyed hash" in problems[0].problem
    result = run(env, "audit", "seal", "--as", "admin")
    assert result.exit_code == 0, result.output
    assert "5" in result.stdout
    history(keyed, team, "另一份通知")
    assert keyed.verify_audit() == (11, [])  # 5 old, the seal event, 5 new
    assert keyed.audit_events()[5]["action"] == "audit.seal"
    # an event that later loses its keyed hash is not sealed again: that would bless a rewrite
    with keyed.db.transaction() as s:
        s.execute(text("UPDATE audit_events SET mac = NULL WHERE seq = 8"))
    result = run(env, "audit", "seal", "--as", "admin")
    assert result.exit_code == 2 and "lost its keyed hash" in result.output
    # sealing is configuring: an editor may not
    assert run(env, "audit", "seal", "--as", "editor").exit_code != 0


def test_a_rotated_key_keeps_old_events_and_anchors_verifying(
    keyed: Service, team: Team, env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(keyed, team)
    anchor = tmp_path / "anchor.json"
    assert run(env, "audit", "anchor", "-o", str(anchor)).exit_code == 0
    monkeypatch.setenv("PUBLISHER_TEST_AUDIT_KEY_NEW", NEW_KEY)
    rotated = {
        **env,
        "PUBLISHER_AUDIT_KEY_ENV": "PUBLISHER_TEST_AUDIT_KEY_NEW",
        "PUBLISHER_AUDIT_PREVIOUS_KEYS_ENV": '["PUBLISHER_TEST_AUDIT_KEY"]',
    }
    new = service_with(
        keyed.settings, key_env="PUBLISHER_TEST_AUDIT_KEY_NEW", previous_keys_env=["PUBLISHER_TEST_AUDIT_KEY"]
    )
    history(new, team, "另一份通知")
    assert run(rotated, "audit", "verify", "--anchor", str(anchor)).exit_code == 0
    # without the old key, the old events are no longer provable
    alone = service_with(keyed.settings, key_env="PUBLISHER_TEST_AUDIT_KEY_NEW")
    assert [p.seq for p in alone.verify_audit()[1]] == [1, 2, 3, 4, 5]
    # re-keying moves every event to the new key; the old key can then be dropped
    assert run(rotated, "audit", "seal", "--rekey", "--as", "admin").exit_code == 0
    assert alone.verify_audit() == (11, [])


def test_anchor_and_seal_need_a_key(env: Env, keyed: Service, team: Team) -> None:
    history(keyed, team)
    plain = {**env, "PUBLISHER_AUDIT_KEY_ENV": None}
    result = run(plain, "audit", "anchor")
    assert result.exit_code == 2 and "audit.key" in result.output


def test_an_approval_is_keyed_in_its_single_statement(keyed: Service, team: Team) -> None:
    """The approval appends its event inside the outbox's statement (one CTE on PostgreSQL):
    it is keyed there too."""
    history(keyed, team)
    uid = keyed.audit_events()[0]["item"]
    keyed.approve(team.approver, str(uid))
    events = keyed.audit_events()
    assert events[-1]["action"] == "approve"
    assert keyed.verify_audit() == (6, [])
    with keyed.db.reader() as s:
        mac = s.execute(text("SELECT mac FROM audit_events WHERE seq = 6")).scalar_one()
    assert mac is not None and mac.startswith(audit.key_id(KEY.encode()) + ":")


def test_anchor_sent_to_the_configured_receiver(
    keyed: Service, team: Team, env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[str, bytes]] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        received.append((handler.headers.get("Authorization", ""), body))
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    history(keyed, team)
    monkeypatch.setenv("PUBLISHER_TEST_ANCHOR_TOKEN", "anchor-token-123")
    with serve({"/anchors": answer, "/refuse": (403, {}, b"no")}) as origin:
        sending = {
            **env,
            "PUBLISHER_AUDIT_ANCHOR_URL": origin.url("/anchors"),
            "PUBLISHER_AUDIT_ANCHOR_TOKEN_ENV": "PUBLISHER_TEST_ANCHOR_TOKEN",
        }
        anchor = tmp_path / "anchor.json"
        result = run(sending, "audit", "anchor", "--send", "-o", str(anchor))
        assert result.exit_code == 0, result.output
        [(auth, body)] = received
        assert auth == "Bearer anchor-token-123"
        assert json.loads(body) == json.loads(anchor.read_text(encoding="utf-8"))
        # a refusing receiver is an error, not a silent success
        refused = run(
            {**sending, "PUBLISHER_AUDIT_ANCHOR_URL": origin.url("/refuse")}, "audit", "anchor", "--send"
        )
        assert refused.exit_code == 2 and "403" in refused.output
    assert run(env, "audit", "anchor", "--send").exit_code == 2  # no anchor_url configured
