"""Post-publication inspection of three channels through one runtime — the feeds, the local
WeChat stand-in and the city platform's reference receiver — with a fault injected in each
after delivery: a feed entry gone, a WeChat article banned by the platform and another deleted
by the account, a record revoked by the platform. Inspection finds every one, and the product's
reconciliation (which lists each channel's whole store) names the same copies."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels import signing
from channels.standins.cityplatform_receiver import ReceiverConfig, start_in_thread
from channels.standins.wechat_server import RunningServer
from publisher.runtime import Runtime
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, redis_prefix)
from tests.conftest import Team
from tests.support import publish, wait_for

WECHAT_SECRET_ENV, CITY_SECRET_ENV = "PUBLISHER_TEST_INSPECT_WECHAT", "PUBLISHER_TEST_INSPECT_CITY"


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Any:
    secret = signing.generate_secret()
    monkeypatch.setenv(CITY_SECRET_ENV, secret)
    receiver = start_in_thread(ReceiverConfig(secrets=[signing.parse_secret(secret)], delay=0.1))
    yield receiver
    receiver.stop()


@pytest.fixture
def runtime(
    make_runtime: Callable[..., Runtime],
    wechat: RunningServer,
    platform: Any,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Runtime:
    monkeypatch.setenv(WECHAT_SECRET_ENV, wechat.config.secret)
    fast = {
        "confirm_interval_seconds": 0.1,
        "retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0},
    }
    return make_runtime(
        {
            "rss": {"enabled": True},
            "wechat": {
                "enabled": True,
                "api_base_url": wechat.api_base_url,
                "appid": wechat.config.appid,
                "secret_env": WECHAT_SECRET_ENV,
                "key_prefix": redis_prefix,
                "update_mode": "republish",
                **fast,
            },
            "cityplatform": {
                "enabled": True,
                "targets": [
                    {
                        "name": "disclosure",
                        "url": platform.records_url,
                        "secret_env": CITY_SECRET_ENV,
                        "types": ["policy"],
                    }
                ],
                **fast,
            },
        },
        checks={"links": False},
    )


def test_inspection_finds_every_injected_fault_and_reconcile_agrees(
    runtime: Runtime, team: Team, wechat: RunningServer, platform: Any
) -> None:
    rt = runtime
    uids = [publish(rt.service, team, title=f"巡检{i}") for i in range(5)]
    gone_feed, banned, deleted, revoked, kept = uids

    def settled() -> bool:
        return all(d["state"] == "delivered" for u in uids for d in rt.service.deliveries(u))

    wait_for(settled, timeout=60)
    assert rt.deliveries.inspect().drifted == 0

    # the faults, each on the channel's own side
    store = Path(rt.settings.data_dir) / "channels" / "rss" / "entries.sqlite3"
    with sqlite3.connect(store) as conn:
        conn.execute("DELETE FROM entries WHERE uid = ?", (gone_feed,))
    external = {
        (d["channel"], u): d["external_id"]
        for u in uids
        for d in rt.service.deliveries(u)
        if d["external_id"]
    }
    wechat.admin("POST", f"publishes/{external[('wechat', banned)]}/ban")
    article = wechat.state()["publishes"][external[("wechat", deleted)]]["article_id"]
    adapter = rt.channels.get("wechat")
    adapter.api.post("freepublish/delete", "freepublish/delete", {"article_id": article, "index": 1})  # type: ignore[attr-defined]
    index_number = rt.service.item_detail(revoked)["index_number"]
    assert platform.admin("POST", f"records/{index_number}/revoke", {"reason": "平台核查"})["ok"]

    report = rt.deliveries.inspect()
    found = {(d["channel"], d["item"], d["kind"]) for d in rt.deliveries.drifts()}
    assert found == {
        ("rss", gone_feed, "missing"),
        ("wechat", banned, "unpublished"),
        ("wechat", deleted, "missing"),
        ("cityplatform", revoked, "unpublished"),
    }
    assert report.drifted == 4 and report.unchecked == 0 and kept not in {u for _c, u, _k in found}

    reconciled = {(r.channel, f.uid) for r in rt.deliveries.reconcile() if r.checked for f in r.problems}
    assert reconciled == {(c, u) for c, u, _k in found}
