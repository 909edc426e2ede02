"""Reconciliation against the rss channel's own store, through the real ledger."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from publisher.delivery.reconcile import reconcile
from publisher.runtime import Runtime
from publisher.settings import Settings
from tests.conftest import Team
from tests.publisher.cli_support import run
from tests.support import publish, wait_for


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime({"rss": {"enabled": True}}, threads=1)


@pytest.fixture
def store(settings: Settings) -> Path:
    """The rss channel's own store, which the tests tamper with."""
    return Path(settings.data_dir) / "channels" / "rss" / "entries.sqlite3"


@pytest.fixture
def cli(
    runtime: Runtime, team: Team, settings: Settings, db_url: str, tmp_path: Path
) -> dict[str, str | None]:
    """One item published and delivered; the environment of `publisher reconcile` over the same
    store with only the rss channel configured."""
    uid = publish(runtime.service, team)
    wait_for(lambda: all_delivered(runtime, [uid]))
    config = tmp_path / "rss-only.toml"
    config.write_text("[channels.rss]\nenabled = true\n", encoding="utf-8")
    return {
        "PUBLISHER_CONFIG": str(config),
        "PUBLISHER_DATABASE_URL": db_url,
        "PUBLISHER_DATA_DIR": str(settings.data_dir),
        "PUBLISHER_BROKER_URL": None,
    }


def all_delivered(rt: Runtime, uids: list[str]) -> bool:
    return all(d["state"] in ("delivered", "superseded") for u in uids for d in rt.service.deliveries(u))


def findings(rt: Runtime) -> list[tuple[str, str]]:
    [report] = reconcile(rt.db, rt.channels, ["rss"])
    assert report.listed
    return sorted((f.problem, f.uid) for f in report.findings)


def test_consistent_after_publish_update_abolish_withdraw(runtime: Runtime, team: Team) -> None:
    rt = runtime
    a, b, c = (publish(rt.service, team, title=f"核对{i}") for i in range(3))
    rt.service.abolish(team.approver, b, on=date(2026, 12, 1))
    rt.service.withdraw(team.approver, c, "撤回")
    wait_for(lambda: all_delivered(rt, [a, b, c]))
    assert findings(rt) == []
    [report] = reconcile(rt.db, rt.channels, ["rss"])
    assert report.expected_live == 2 and report.held_live == 2


def test_every_kind_of_drift_is_found(runtime: Runtime, team: Team, store: Path) -> None:
    rt = runtime
    gone, old, back, kept = (publish(rt.service, team, title=f"漂移{i}") for i in range(4))
    rt.service.abolish(team.approver, old, on=date(2026, 12, 1))
    rt.service.withdraw(team.approver, back, "撤回")
    wait_for(lambda: all_delivered(rt, [gone, old, back, kept]))
    with sqlite3.connect(store) as conn:  # tamper with the channel's own store
        conn.execute("DELETE FROM entries WHERE uid = ?", (gone,))
        conn.execute("UPDATE entries SET version = 1 WHERE uid = ?", (old,))
        conn.execute("UPDATE entries SET withdrawn = 0 WHERE uid = ?", (back,))
        data = conn.execute("SELECT data FROM entries WHERE uid = ?", (kept,)).fetchone()[0]
        conn.execute(
            "INSERT INTO entries (uid, version, withdrawn, data) VALUES (?, 1, 0, ?)",
            ("01unknownitem0000000000000", json.dumps({**json.loads(data), "uid": "x"})),
        )
    assert findings(rt) == sorted(
        [
            ("missing", gone),
            ("stale", old),
            ("not_removed", back),
            ("extra", "01unknownitem0000000000000"),
        ]
    )


def test_a_copy_showing_the_old_validity_is_stale(runtime: Runtime, team: Team, store: Path) -> None:
    # the ledger's side reads each version's validity (not its whole content): an abolished
    # item whose copy still says 有效 is found, with the validity named
    rt = runtime
    uid = publish(rt.service, team, title="有效性")
    rt.service.abolish(team.approver, uid, on=date(2026, 12, 1))
    wait_for(lambda: all_delivered(rt, [uid]))
    assert findings(rt) == []
    with sqlite3.connect(store) as conn:
        data = json.loads(conn.execute("SELECT data FROM entries WHERE uid = ?", (uid,)).fetchone()[0])
        data["disclosure"]["validity"] = "有效"
        conn.execute("UPDATE entries SET data = ? WHERE uid = ?", (json.dumps(data, ensure_ascii=False), uid))
    [report] = reconcile(rt.db, rt.channels, ["rss"])
    [finding] = report.findings
    assert (finding.problem, finding.uid) == ("stale", uid)
    assert "有效性为 有效，应为 已废止" in finding.detail


def test_cli_exit_codes(cli: dict[str, str | None], store: Path) -> None:
    ok = run(cli, "reconcile", "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    with sqlite3.connect(store) as conn:
        conn.execute("DELETE FROM entries")
    bad = run(cli, "reconcile")
    assert bad.exit_code == 1 and "[missing]" in bad.output


def test_a_store_that_cannot_be_read_is_not_checked_never_consistent(
    runtime: Runtime, cli: dict[str, str | None], store: Path
) -> None:
    env = cli
    assert "rss: 已核对 / checked" in run(env, "reconcile").output
    # the channel's own store broken underneath it: reading it fails (not a ChannelError)
    runtime.channels.get("rss").close()
    for extra in store.parent.glob(store.name + "-*"):
        extra.unlink()
    store.write_bytes(b"not a database " * 512)
    [report] = reconcile(runtime.db, runtime.channels, ["rss"])
    assert not report.checked and report.not_checked == "unreadable" and report.findings == []
    assert report.error and "database" in report.error

    out = run(env, "reconcile")
    assert out.exit_code == 3
    assert "rss: 未核对 / not checked (无法读取 / could not read)" in out.output
    assert "一致 / consistent" not in out.output and "consistency not established" in out.output
    data = json.loads(run(env, "reconcile", "--json").output)
    assert data["ok"] is False and data["consistent"] is False and data["not_checked"] == ["rss"]
    [channel] = data["channels"]
    assert channel["checked"] is False and channel["not_checked"] == "unreadable"
