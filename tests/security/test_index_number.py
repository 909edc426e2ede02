"""The 索取号 is the system's alone, attacked through the API and the CLI: an editor can
neither supply nor change it (422 naming `index_number`); an admin imports a legacy item's
number through `publisher item import-index-no`, checked against the agency's pattern and
year, audited, kept at approval and never handed out again. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from publisher.runtime import Runtime
from tests.publisher.cli_support import cli_env, run
from tests.samples import policy
from tests.security.people import Office, open_office


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _fields(r: object) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]  # type: ignore[attr-defined]


def test_an_editor_neither_supplies_nor_changes_the_number(office: Office) -> None:
    editor = office.api("editor")
    r = editor.post("/api/items", json=policy(index_number="AB1900010-2026-001"))
    assert r.status_code == 422 and _fields(r) == ["index_number"] and "系统" in r.text
    assert office.api("ops").get("/api/items").json()["total"] == 0
    uid = editor.post("/api/items", json=policy()).json()["uid"]
    editor.post(f"/api/items/{uid}/submit")
    office.api("reviewer").post(f"/api/items/{uid}/review")
    number = office.api("approver").post(f"/api/items/{uid}/approve").json()["index_number"]
    assert number.startswith("AB1900010-")
    # sending the assigned number back unchanged is fine; another one is not
    assert (
        editor.patch(f"/api/items/{uid}", json={"title": "修订", "index_number": number}).status_code == 200
    )
    r = editor.patch(f"/api/items/{uid}", json={"index_number": "AB1900010-2026-999"})
    assert r.status_code == 422 and _fields(r) == ["index_number"]
    assert office.api("ops").get(f"/api/items/{uid}").json()["index_number"] == number


def test_an_admin_imports_a_legacy_number_validated_and_audited(office: Office, tmp_path: Path) -> None:
    env = cli_env(tmp_path, office.runtime.settings.db_url)
    uid = office.api("editor").post("/api/items", json=policy(issue_date="2019-04-04")).json()["uid"]
    for bad in ("XX1900010-2019-146", "AB1900010-2019", "AB1900010-2999-146", "AB1900010-1899-146"):
        r = run(env, "item", "import-index-no", uid, bad, "--as", "admin")
        assert r.exit_code != 0 and "index_number" in r.output + r.stderr, (bad, r.output)
    r = run(env, "item", "import-index-no", uid, "AB1900010-2019-146", "--as", "editor")
    assert r.exit_code != 0 and "admin" in r.output + r.stderr
    r = run(env, "item", "import-index-no", uid, "AB1900010-2019-146", "--as", "admin")
    assert r.exit_code == 0, r.output
    # once set it never changes, and the counter never hands it out again
    assert run(env, "item", "import-index-no", uid, "AB1900010-2019-147", "--as", "admin").exit_code != 0
    [event] = [
        e
        for e in office.api("auditor").get("/api/audit", params={"item": uid}).json()
        if e["action"] == "import-index-no"
    ]
    assert event["actor"] == "admin" and event["data"] == {"index_number": "AB1900010-2019-146"}
    office.api("editor").post(f"/api/items/{uid}/submit")
    office.api("reviewer").post(f"/api/items/{uid}/review")
    # the importer counts as a maker of this version: another approver approves
    assert office.api("admin").post(f"/api/items/{uid}/approve").status_code == 403
    r = office.api("approver").post(f"/api/items/{uid}/approve")
    assert r.status_code == 200 and r.json()["index_number"] == "AB1900010-2019-146"
