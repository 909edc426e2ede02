"""User lifecycle, attacked through the API, the pages and the CLI: the security
administrator disables, re-roles, re-tokens and re-passwords users; each change ends what it
must on the very next request (an open page session goes back to the login page, a token
gets 401), is an audit event, and is nobody else's to make, admin included. Passwords: 12+
characters, not the name, Argon2id, older scrypt hashes verified and replaced, never taken
as a command-line argument. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from publisher.runtime import Runtime
from publisher.store.models import User
from tests.publisher.cli_support import cli_env, run
from tests.security.people import PASSWORD, Office, open_office

NEW_PASSWORD = "another long passphrase 新口令"


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _events(office: Office, action: str) -> list[dict[str, object]]:
    return [e for e in office.api("auditor").get("/api/audit").json() if e["action"] == action]


def _logged_out(client: TestClient) -> None:
    r = client.get("/app/items", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login"), r.status_code


def test_disabling_ends_the_open_session_and_the_token_at_once(office: Office) -> None:
    page, api = office.page("editor"), office.api("editor")
    assert page.get("/app/items", follow_redirects=False).status_code == 200
    assert api.get("/api/items").status_code == 200

    r = office.api("secadmin").post("/api/users/editor/disable")
    assert r.status_code == 200 and r.json()["active"] is False

    _logged_out(page)
    assert api.get("/api/items").status_code == 401
    # a form the session had open is refused too, and nothing is written
    assert page.post("/app/items/new", data={"title": "x"}, follow_redirects=False).status_code == 303
    assert office.api("ops").get("/api/items").json()["total"] == 0
    # and the password no longer opens a session
    with pytest.raises(AssertionError):
        office.page("editor")
    [event] = _events(office, "user.disable")
    assert event["actor"] == "secadmin" and event["data"] == {"user": "editor"}

    assert office.api("secadmin").post("/api/users/editor/enable").json()["active"] is True
    assert office.page("editor").get("/app/items", follow_redirects=False).status_code == 200


def test_a_new_role_ends_sessions_and_the_old_token(office: Office) -> None:
    page, api = office.page("approver"), office.api("approver")
    r = office.api("secadmin").post("/api/users/approver/role", json={"role": "reviewer"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    _logged_out(page)
    assert api.get("/api/items").status_code == 401
    [event] = _events(office, "user.role")
    assert event["data"] == {"user": "approver", "from": "approver", "to": "reviewer"}
    # a new token speaks for the new role only
    token = office.api("secadmin").post("/api/users/approver/token").json()["token"]
    office.tokens["approver"] = token
    assert office.api("approver").post("/api/channels/rss/pause", json={"reason": "x"}).status_code == 403
    assert len(_events(office, "user.token")) == 1


def test_rotating_a_token_ends_the_old_one(office: Office) -> None:
    old = office.api("ops")
    r = office.api("secadmin").post("/api/users/ops/token")
    assert r.status_code == 200 and r.json()["token"].startswith("pub_")
    assert old.get("/api/items").status_code == 401
    office.tokens["ops"] = r.json()["token"]
    assert office.api("ops").get("/api/items").status_code == 200


def test_only_the_secadmin_manages_users(office: Office) -> None:
    for who in ("admin", "editor", "sysadmin", "auditor", "ops"):
        client = office.api(who)
        assert client.post("/api/users/editor2/disable").status_code == 403, who
        assert client.post("/api/users", json={"name": "puppet", "role": "approver"}).status_code == 403
        assert client.get("/api/users").status_code == 403
    assert office.api("editor2").get("/api/items").status_code == 200
    assert "puppet" not in [u["name"] for u in office.api("secadmin").get("/api/users").json()]
    # the secadmin cannot lock themselves out or change their own role
    r = office.api("secadmin").post("/api/users/secadmin/disable")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    # a new account by the secadmin is audited under their name
    r = office.api("secadmin").post(
        "/api/users", json={"name": "newbie", "role": "editor", "password": PASSWORD}
    )
    assert r.status_code == 201
    added = [e for e in _events(office, "user.add") if e["data"]["user"] == "newbie"]  # type: ignore[index]
    assert [e["actor"] for e in added] == ["secadmin"]


@pytest.mark.parametrize(
    ("password", "why"), [("short 12345", "至少 12"), ("editor2", "至少 12"), ("EDITOR2-long!", None)]
)
def test_password_rules(office: Office, password: str, why: str | None) -> None:
    r = office.api("secadmin").post("/api/users/editor2/password", json={"password": password})
    if why is None:
        assert r.status_code == 200
        return
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password" and why in r.text


def test_the_password_may_not_be_the_name(office: Office) -> None:
    office.api("secadmin").post("/api/users", json={"name": "long-user-name", "role": "editor"})
    r = office.api("secadmin").post("/api/users/long-user-name/password", json={"password": "Long-User-Name"})
    assert r.status_code == 422 and "用户名" in r.text and r.json()["errors"][0]["field"] == "password"


def test_a_password_change_ends_other_sessions_and_is_argon2(office: Office) -> None:
    page = office.page("reviewer")
    # a user sets their own password
    r = office.api("reviewer").post("/api/users/reviewer/password", json={"password": NEW_PASSWORD})
    assert r.status_code == 200
    _logged_out(page)
    with pytest.raises(AssertionError):
        office.page("reviewer", PASSWORD)
    assert office.page("reviewer", NEW_PASSWORD).get("/app/items", follow_redirects=False).status_code == 200
    user = office.runtime.service.user_by_name("reviewer")
    assert user is not None and user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    # but not someone else's
    r = office.api("reviewer").post("/api/users/editor/password", json={"password": NEW_PASSWORD})
    assert r.status_code == 403


def test_an_old_scrypt_hash_still_logs_in_and_is_replaced(office: Office) -> None:
    salt = os.urandom(16)
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1)
    with office.runtime.db.transaction() as s:
        s.execute(
            update(User)
            .where(User.name == "editor2")
            .values(password_hash=f"scrypt${salt.hex()}${digest.hex()}")
        )
    with pytest.raises(AssertionError):
        office.page("editor2", "not the password at all")
    assert office.page("editor2").get("/app/items", follow_redirects=False).status_code == 200
    user = office.runtime.service.user_by_name("editor2")
    assert user is not None and user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert office.page("editor2").get("/app/items", follow_redirects=False).status_code == 200


def test_the_cli_changes_users_as_the_secadmin_and_never_takes_a_password_argument(
    office: Office, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, office.runtime.settings.db_url)
    page, api = office.page("editor2"), office.api("editor2")

    r = run(env, "user", "disable", "editor2", "--as", "admin")
    assert r.exit_code != 0 and "secadmin" in r.output
    r = run(env, "user", "disable", "editor2", "--as", "secadmin")
    assert r.exit_code == 0, r.output
    _logged_out(page)
    assert api.get("/api/items").status_code == 401
    assert run(env, "user", "enable", "editor2", "--as", "secadmin").exit_code == 0

    # a password as an argument is a usage error; from stdin it is taken
    assert run(env, "user", "passwd", "editor2", NEW_PASSWORD, "--as", "secadmin").exit_code == 2
    r = run(
        env, "user", "passwd", "editor2", "--password-stdin", "--as", "secadmin", input=NEW_PASSWORD + "\n"
    )
    assert r.exit_code == 0, r.output
    assert office.page("editor2", NEW_PASSWORD).get("/app/items", follow_redirects=False).status_code == 200
    r = run(env, "user", "passwd", "editor2", "--password-stdin", "--as", "secadmin", input="short\n")
    assert r.exit_code != 0 and "12" in r.output

    r = run(env, "user", "set-role", "editor2", "approver", "--as", "secadmin")
    assert r.exit_code == 0 and api.get("/api/items").status_code == 401
    assert run(env, "user", "rotate-token", "editor2", "--as", "secadmin", "--json").exit_code == 0
    actions = [
        e["action"] for e in office.api("auditor").get("/api/audit").json() if e["actor"] == "secadmin"
    ]
    assert actions == ["user.disable", "user.enable", "user.password", "user.role", "user.token"]
