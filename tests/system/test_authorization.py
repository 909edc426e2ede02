"""Authorisation across the whole API, and secrets kept out of everything anyone can read.

- Every write endpoint of the OpenAPI document (POST/PUT/PATCH/DELETE under /api) is listed in
  `MIN_ROLES` with the roles that may call it; a new write endpoint missing from the table fails
  the test. Each is refused without a token (401), with a bad token (401) and for every other
  role (403), and the store is unchanged byte for byte after each refusal.
- An author never approves their own item (403), even an admin.
- Secrets (a webhook subscriber's and a city-platform target's, from the environment) never
  appear in API answers, error texts, stored attempts, pages, /metrics, CLI output or logs,
  whether deliveries fail or the configuration itself is wrong.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from publisher.cli import main
from publisher.domain.item import Role
from publisher.editorial.service import Service
from publisher.runtime import Runtime, build_runtime
from publisher.settings import Settings, SettingsError, load_settings
from publisher.store.db import Database
from publisher.store.models import Base, Delivery
from publisher.web import create_app
from tests.conftest import Team, with_channels
from tests.receiver import Receiver
from tests.samples import policy

# (method, path) → the roles that may call it besides admin, for the fixture's item (awaiting approval). Keep in step with the API: a write
# endpoint that is not here fails test_every_write_endpoint_is_in_the_role_table.
MIN_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/items"): frozenset({Role.EDITOR}),
    ("PATCH", "/api/items/{uid}"): frozenset({Role.EDITOR}),
    ("POST", "/api/items/{uid}/submit"): frozenset({Role.EDITOR}),
    ("POST", "/api/items/{uid}/review"): frozenset({Role.REVIEWER}),
    ("POST", "/api/items/{uid}/approve"): frozenset({Role.APPROVER}),
    # reviewers reject while an item is in review; the fixture's item awaits approval
    ("POST", "/api/items/{uid}/reject"): frozenset({Role.APPROVER}),
    ("POST", "/api/items/{uid}/abolish"): frozenset({Role.APPROVER}),
    ("POST", "/api/items/{uid}/withdraw"): frozenset({Role.APPROVER}),
    ("POST", "/api/deliveries/{delivery_id}/replay"): frozenset({Role.OPS}),
    # an excluded channel's delivery let go after all: the approver's call (workflow.release_excluded)
    ("POST", "/api/deliveries/{delivery_id}/release"): frozenset({Role.APPROVER}),
    ("POST", "/api/channels/{channel}/replay-failed"): frozenset({Role.OPS}),
    # a live copy that drifted from the ledger: sent again, or its state accepted (ops)
    ("POST", "/api/drifts/{drift_id}/repush"): frozenset({Role.OPS}),
    ("POST", "/api/drifts/{drift_id}/accept"): frozenset({Role.OPS}),
    ("POST", "/api/channels/{channel}/pause"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("POST", "/api/channels/{channel}/resume"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("POST", "/api/channels/{channel}/retry-now"): frozenset({Role.OPS}),
    ("PUT", "/api/compliance/calendar/{year}"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("POST", "/api/compliance/check"): frozenset({Role.OPS}),
    ("POST", "/api/compliance/applications"): frozenset({Role.EDITOR}),
    ("POST", "/api/compliance/applications/{number}/convert"): frozenset({Role.EDITOR}),
    ("POST", "/api/compliance/consultations/{uid}/adoption-report"): frozenset({Role.EDITOR}),
    ("POST", "/api/items/{uid}/check/accept"): frozenset({Role.REVIEWER}),
    ("POST", "/api/checks/words"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("POST", "/api/checks/words/remove"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("POST", "/api/checks/people"): frozenset({Role.OPS, Role.SYSADMIN}),
    ("DELETE", "/api/checks/people/{entry_id}"): frozenset({Role.OPS, Role.SYSADMIN}),
    # users are the security administrator's alone (admin included: it could mint a second approver)
    ("POST", "/api/users"): frozenset({Role.SECADMIN}),
    ("POST", "/api/users/{name}/disable"): frozenset({Role.SECADMIN}),
    ("POST", "/api/users/{name}/enable"): frozenset({Role.SECADMIN}),
    ("POST", "/api/users/{name}/role"): frozenset({Role.SECADMIN}),
    ("POST", "/api/users/{name}/token"): frozenset({Role.SECADMIN}),
    ("POST", "/api/users/{name}/password"): frozenset({Role.SECADMIN}),
}
# POSTs that write nothing, which every role may call: the content check of a draft being typed.
READ_ONLY_POSTS = {("POST", "/api/check")}
# A body each endpoint would take from the right role (refusals must come before validation).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/items"): policy(),
    ("PATCH", "/api/items/{uid}"): {"title": "改过的标题"},
    ("POST", "/api/items/{uid}/reject"): {"reason": "文号有误"},
    ("POST", "/api/items/{uid}/abolish"): {"date": "2026-12-20"},
    ("POST", "/api/items/{uid}/withdraw"): {"reason": "撤回"},
    ("POST", "/api/channels/{channel}/replay-failed"): {},
    ("POST", "/api/drifts/{drift_id}/accept"): {"reason": "人工改动已核实"},
    ("POST", "/api/channels/{channel}/pause"): {"reason": "维护"},
    ("PUT", "/api/compliance/calendar/{year}"): {},
    ("POST", "/api/compliance/applications"): {},
    ("POST", "/api/compliance/applications/{number}/convert"): {},
    ("POST", "/api/compliance/consultations/{uid}/adoption-report"): {},
    ("POST", "/api/items/{uid}/check/accept"): {"key": "0" * 32, "reason": "理由"},
    ("POST", "/api/checks/words"): {"term": "示范词", "kind": "forbidden"},
    ("POST", "/api/checks/words/remove"): {"term": "再接再励"},
    ("POST", "/api/checks/people"): {"name": "王明", "title": "局长", "valid_from": "2020-01-01"},
    ("POST", "/api/users"): {"name": "newcomer", "role": "editor", "password": "a long passphrase 口令"},
    ("POST", "/api/users/{name}/role"): {"role": "reviewer"},
    ("POST", "/api/users/{name}/password"): {"password": "a long passphrase 口令"},
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def may(role: Role, endpoint: tuple[str, str]) -> bool:
    """Admin may call everything but user management (publisher/domain/permissions.py)."""
    if role is Role.ADMIN:
        return not endpoint[1].startswith("/api/users")
    return role in MIN_ROLES[endpoint]


@dataclass
class Api:
    runtime: Runtime
    client: TestClient
    team: Team
    uid: str  # an item awaiting approval, drafted by the editor
    delivery_id: int


@pytest.fixture
def api(settings: Settings, service: Service, team: Team) -> Iterator[Api]:
    runtime = build_runtime(with_channels(settings, "rss"))
    published = service.create_item(team.editor, policy(ref="published"))
    service.submit(team.editor, published.uid)
    service.review(team.reviewer, published.uid)
    service.approve(team.approver, published.uid)
    waiting = service.create_item(team.editor, policy(ref="waiting"))
    service.submit(team.editor, waiting.uid)
    service.review(team.reviewer, waiting.uid)
    with runtime.db.reader() as s:
        delivery_id = s.execute(select(Delivery.id)).scalars().first()
    assert delivery_id is not None
    with TestClient(create_app(runtime)) as client:
        yield Api(runtime, client, team, waiting.uid, delivery_id)
    runtime.close()


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a refused call must leave all of it as it was."""
    with db.reader() as s:
        return {
            t.name: sorted((tuple(r) for r in s.execute(t.select())), key=repr)
            for t in Base.metadata.sorted_tables
        }


def concrete(path: str, api: Api) -> str:
    return (
        path.replace("{uid}", api.uid)
        .replace("{delivery_id}", str(api.delivery_id))
        .replace("{channel}", "rss")
        .replace("{year}", "2026")
        .replace("{number}", "A-2026-001")
        .replace("{entry_id}", "1")
        .replace("{drift_id}", "1")
        .replace("{name}", "editor2")
    )


def send(api: Api, method: str, path: str, headers: dict[str, str]) -> Any:
    body = BODIES.get((method, path))
    return api.client.request(method, concrete(path, api), json=body, headers=headers)


def _error_fields(response: Any) -> list[str]:
    body = response.json()
    assert all(set(e) == {"field", "message"} and "/" in e["message"] for e in body["errors"]), body
    return [e["field"] for e in body["errors"]]


# -- the table --------------------------------------------------------------------------------------
def test_every_write_endpoint_is_in_the_role_table(api: Api) -> None:
    doc = api.client.app.openapi()  # type: ignore[attr-defined]
    writes = {
        (method.upper(), path)
        for path, operations in doc["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if method in WRITE_METHODS
    }
    writes -= READ_ONLY_POSTS
    assert writes - MIN_ROLES.keys() == set(), "new write endpoints: add them to MIN_ROLES with their roles"
    assert MIN_ROLES.keys() - writes == set(), "MIN_ROLES names endpoints the API no longer has"


# -- no or bad token --------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", sorted(MIN_ROLES), ids=" ".join)
def test_every_write_endpoint_refuses_a_missing_or_bad_token(api: Api, endpoint: tuple[str, str]) -> None:
    method, path = endpoint
    before = snapshot(api.runtime.db)
    for header in (
        None,
        "Bearer pub_not-a-real-token",
        "Bearer ",
        "Basic ZWRpdG9yOmVkaXRvcg==",
        f"Token {api.team.tokens['admin']}",
    ):
        r = send(api, method, path, {"Authorization": header} if header else {})
        assert r.status_code == 401, (header, r.text)
        assert _error_fields(r) == ["authorization"] and r.headers["www-authenticate"] == "Bearer"
    assert snapshot(api.runtime.db) == before


# -- wrong role -------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", sorted(MIN_ROLES), ids=" ".join)
def test_every_write_endpoint_refuses_every_other_role(api: Api, endpoint: tuple[str, str]) -> None:
    method, path = endpoint
    before = snapshot(api.runtime.db)
    refused = [role for role in Role if not may(role, endpoint)]
    assert refused, "an endpoint every role may call is not a write endpoint worth a row"
    for role in refused:
        r = send(api, method, path, {"Authorization": f"Bearer {api.team.tokens[role.value]}"})
        assert r.status_code == 403, (role, r.text)
        assert _error_fields(r) == ["actor"]
    assert snapshot(api.runtime.db) == before
    # and the roles in the table do get past the role check (whatever the state then says)
    for role in [r for r in Role if may(r, endpoint)]:
        r = send(api, method, path, {"Authorization": f"Bearer {api.team.tokens[role.value]}"})
        assert r.status_code != 403 or "自己" in r.text, (role, r.text)


def test_an_author_never_approves_their_own_item(api: Api, service: Service, team: Team) -> None:
    # given an item drafted by the admin, who may approve in general
    own = service.create_item(team.admin, policy(ref="own"))
    service.submit(team.admin, own.uid)
    service.review(team.reviewer, own.uid)
    before = snapshot(api.runtime.db)
    # when the admin approves it
    r = api.client.post(
        f"/api/items/{own.uid}/approve", headers={"Authorization": f"Bearer {team.tokens['admin']}"}
    )
    # then it is refused and nothing changed
    assert r.status_code == 403 and _error_fields(r) == ["actor"] and "自己" in r.text
    assert snapshot(api.runtime.db) == before
    # and another approver may
    r = api.client.post(
        f"/api/items/{own.uid}/approve", headers={"Authorization": f"Bearer {team.tokens['approver']}"}
    )
    assert r.status_code == 200, r.text


# -- secrets ----------------------------------------------------------------------------------------
WEBHOOK_KEY = b"webhook-key-known-to-this-test-1"  # 32 bytes
CITY_KEY = b"city-platform-key-known-to-test2"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
CITY_SECRET = "whsec_" + base64.b64encode(CITY_KEY).decode()
CMS_PASSWORD = "cmsp abcd efgh ijkl mnop qrst"


def secret_strings(*secrets: str) -> list[str]:
    """The secrets as they could leak: whole, their base64 part, or a long enough piece of it."""
    out: list[str] = []
    for secret in secrets:
        body = secret.removeprefix("whsec_")
        out += [secret, body, body[:16], body[-16:]]
    return out


def config_file(
    tmp_path: Path,
    db_url: str,
    webhook_url: str,
    city_url: str,
    *,
    city_names: tuple[str, ...] = ("disclosure",),
) -> Path:
    targets = "".join(
        f'[[channels.cityplatform.targets]]\nname = "{name}"\nurl = "{city_url}"\n'
        f'secret_env = "PUBLISHER_TEST_CITY_SECRET"\ntypes = ["policy", "notice"]\n'
        for name in city_names
    )
    path = tmp_path / "publisher.toml"
    path.write_text(
        f"""
data_dir = "{(tmp_path / "data").as_posix()}"
[database]
url = "{db_url}"
[channels.rss]
enabled = true
[channels.cms]
enabled = false
app_password_env = "PUBLISHER_TEST_CMS_PASSWORD"
[channels.wechat]
enabled = false
[channels.webhook]
enabled = true
url = "{webhook_url}"
secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"
[channels.cityplatform]
enabled = true
{targets}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("PUBLISHER_TEST_CITY_SECRET", CITY_SECRET)
    monkeypatch.setenv("PUBLISHER_TEST_CMS_PASSWORD", CMS_PASSWORD)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """One local endpoint for both channels that refuses: 401 first, then 500 for ever."""
    r = Receiver(secret=WEBHOOK_SECRET, default=500).start()
    yield r
    r.stop()


def login(client: TestClient, name: str, password: str) -> None:
    page = client.get("/app/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    r = client.post(
        "/app/login",
        data={"name": name, "password": password, "csrf": csrf.group(1), "next": "/app/"},
        follow_redirects=False,
    )
    assert r.status_code in (302, 303), r.text[:500]


def everything_readable(
    runtime: Runtime, client: TestClient, token: str, uid: str, env: dict[str, str | None]
) -> dict[str, str]:
    """What ops, editors, scrapers and the CLI can read after the failures."""
    admin = {"Authorization": f"Bearer {token}"}
    seen: dict[str, str] = {}
    for path in (
        "/api/channels",
        "/api/deliveries",
        f"/api/items/{uid}",
        f"/api/items/{uid}/deliveries",
        "/api/audit",
        "/metrics",
        "/readyz",
        "/api/compliance/inspection",
        "/openapi.json",
    ):
        seen[path] = client.get(path, headers=admin).text
    for row in json.loads(seen["/api/deliveries"])["deliveries"]:
        seen[f"/api/deliveries/{row['id']}"] = client.get(f"/api/deliveries/{row['id']}", headers=admin).text
    for path in (
        "/app/",
        "/app/ops",
        "/app/ops/channels",
        "/app/ops/failed",
        f"/app/ops/items/{uid}",
        f"/app/items/{uid}",
        "/app/ops/audit",
    ):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        seen[path] = page.text
    with runtime.db.reader() as s:
        for table in ("attempts", "deliveries", "audit_events", "channel_states"):
            seen[f"table {table}"] = repr(s.execute(text(f"SELECT * FROM {table}")).all())
    runner = CliRunner()
    for args in (
        ["channel", "list"],
        ["deliveries"],
        ["deliveries", "--state", "failed"],
        ["item", "show", uid],
    ):
        result = runner.invoke(main, args, env=env, catch_exceptions=True)
        seen["publisher " + " ".join(args)] = result.output + repr(result.exception or "")
    return seen


def leaks(seen: dict[str, str], logs: str, secrets: list[str]) -> list[str]:
    found = [f"{where}: {s[:10]}…" for where, body in seen.items() for s in secrets if s in body]
    return found + [f"logs: {s[:10]}…" for s in secrets if s in logs]


def cli_env(config: Path, db_url: str) -> dict[str, str | None]:
    return {
        "PUBLISHER_CONFIG": str(config),
        "PUBLISHER_DATABASE_URL": db_url,
        "PUBLISHER_USER": "admin",
        "PUBLISHER_BROKER_URL": None,
    }


def test_secrets_never_appear_when_deliveries_fail(
    tmp_path: Path,
    db_url: str,
    service: Service,
    team: Team,
    secret_env: None,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given webhook and city-platform channels whose endpoint refuses (401, then 500)
    caplog.set_level(logging.DEBUG)
    config = config_file(tmp_path, db_url, receiver.url, receiver.url + "/records")
    runtime = build_runtime(load_settings(path=config))
    service.add_user("opsweb", "ops", password="ops-web-password")
    try:
        with TestClient(create_app(runtime)) as client:
            h = {who: {"Authorization": f"Bearer {token}"} for who, token in team.tokens.items()}
            uid = client.post("/api/items", json=policy(), headers=h["editor"]).json()["uid"]
            for who, action in (("editor", "submit"), ("reviewer", "review"), ("approver", "approve")):
                r = client.post(f"/api/items/{uid}/{action}", headers=h[who])
                assert r.status_code == 200, r.text
            # when every delivery is tried (twice where the ledger lets it) and ops poke at the channels
            with runtime.db.reader() as s:
                ids = list(s.execute(select(Delivery.id)).scalars())
            for delivery_id in ids * 2:
                runtime.engine.process(delivery_id)
            for channel in ("webhook", "cityplatform"):
                client.post(f"/api/channels/{channel}/resume", headers=h["ops"])
                client.post(f"/api/channels/{channel}/replay-failed", json={}, headers=h["ops"])
            for delivery_id in ids:
                runtime.engine.process(delivery_id)
            login(client, "opsweb", "ops-web-password")
            seen = everything_readable(runtime, client, team.tokens["admin"], uid, cli_env(config, db_url))
    finally:
        runtime.close()
    # then the failures happened and were recorded …
    assert len(receiver.hits) >= 3
    with runtime.db.reader() as s:
        errors = list(s.execute(text("SELECT error FROM attempts WHERE error IS NOT NULL")).scalars())
    assert errors, "no failed attempt was recorded"
    # … and no secret is anywhere anyone can read
    assert leaks(seen, caplog.text, secret_strings(WEBHOOK_SECRET, CITY_SECRET, CMS_PASSWORD)) == []


@pytest.mark.parametrize("case", ["malformed-city-secret", "duplicate-targets"])
def test_secrets_never_appear_in_configuration_errors(
    tmp_path: Path,
    db_url: str,
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
    secret_env: None,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    # given a city-platform configuration that is wrong, with a secret in it
    caplog.set_level(logging.DEBUG)
    secrets = secret_strings(WEBHOOK_SECRET, CITY_SECRET)
    if case == "malformed-city-secret":
        bad = "whsec_" + "TYPO-in-the-known-city-secret-0123456789"
        monkeypatch.setenv("PUBLISHER_TEST_CITY_SECRET", bad)
        secrets += [bad, bad[6:]]
        config = config_file(tmp_path, db_url, "http://127.0.0.1:9/hook", "http://127.0.0.1:9/records")
    else:
        config = config_file(
            tmp_path,
            db_url,
            "http://127.0.0.1:9/hook",
            "http://127.0.0.1:9/records",
            city_names=("disclosure", "disclosure"),
        )
    # when the service starts (settings are checked at start-up) and ops run `config check`
    with pytest.raises(SettingsError) as refused:
        build_runtime(load_settings(path=config))
    check = CliRunner().invoke(main, ["config", "check"], env=cli_env(config, db_url), catch_exceptions=False)
    seen = {"start-up": str(refused.value), "config check": check.output}
    # then both refuse naming the channel's key, and no secret is in the message or the logs
    assert "channels.cityplatform" in str(refused.value), str(refused.value)
    assert check.exit_code == 2 and "channels.cityplatform" in check.output, check.output
    assert leaks(seen, caplog.text, secrets) == []
