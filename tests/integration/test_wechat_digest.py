"""The daily WeChat digest (群发) through the running system: policies delivered to WeChat by
the embedded executor (local stand-in, real HTTP), then the periodic scheduler (publisher.delivery.periodic) bundles the
day's items of the broadcast types into one mass message, once a day, audited; the
stand-in's signed MASSSENDJOBFINISH reaches our app and digest_status reports it. Redis
db 5 under this module's own prefix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from datetime import time as day_time
from typing import Any

import pytest

from channels.base import Receipt
from channels.standins.wechat_server import RunningServer
from publisher.delivery.executor import EmbeddedExecutor
from publisher.delivery.periodic import run_digests, run_periodic
from publisher.domain.clock import SHANGHAI, local_today, utcnow
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, redis_prefix)
from tests.channels.wechat_support import REDIS_URL
from tests.conftest import Team
from tests.publisher.web.live import serve
from tests.support import publish as approve
from tests.support import wait_for

SECRET_ENV = "PUBLISHER_TEST_WECHAT_SECRET"
TOKEN_ENV = "PUBLISHER_TEST_WECHAT_TOKEN"
RETRY: dict[str, Any] = {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 4}
# The embedded sweeper runs the periodic work once, 5 s after start, then every interval:
# with a huge interval the only digest runs after that are the ones these tests make.
FIRST_PERIODIC = 5.0
TITLES = ["关于做好2026年预算公开工作的通知", "关于加强政府采购管理的通知", "关于规范财政专项资金的通知"]

Deploy = Callable[..., Runtime]


@pytest.fixture
def deploy(
    make_runtime: Callable[..., Runtime],
    wechat: RunningServer,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deploy]:
    """The service with only the wechat channel (broadcasting policies), its web app on a free
    port receiving the stand-in's pushes; returns once the sweeper's first periodic run is over."""
    monkeypatch.setenv(SECRET_ENV, wechat.config.secret)
    monkeypatch.setenv(TOKEN_ENV, "callback-token-for-tests")
    stack = ExitStack()

    def make(**section_overrides: Any) -> Runtime:
        section: dict[str, Any] = {
            "enabled": True,
            "api_base_url": wechat.api_base_url,
            "appid": wechat.config.appid,
            "secret_env": SECRET_ENV,
            "callback_token_env": TOKEN_ENV,
            "redis_url": REDIS_URL,
            "key_prefix": redis_prefix,
            "read_timeout": 5.0,
            "retry": RETRY,
            "breaker": {"failures": 50},
            "broadcast_types": ["policy"],
            **section_overrides,
        }
        rt = make_runtime({"wechat": section}, executor_section={"compliance_interval_seconds": 1e6})
        sweeper = rt.executor
        assert isinstance(sweeper, EmbeddedExecutor)
        url = stack.enter_context(serve(create_app(rt)))
        wechat.admin("POST", "config", {"callback_url": f"{url}/callbacks/wechat", "aes_key": None})
        wait_for(lambda: sweeper.periodic_runs >= 1, FIRST_PERIODIC + 30, "the first periodic run")
        return rt

    with stack:
        yield make


def delivered(rt: Runtime, uids: list[str]) -> bool:
    return all(d["state"] == "delivered" for uid in uids for d in rt.service.deliveries(uid))


def digest_events(rt: Runtime, action: str = "channel.digest") -> list[dict[str, Any]]:
    return [e for e in rt.service.audit_events(limit=10_000) if e["action"] == action]


def at(hour: int, minute: int = 0) -> datetime:
    """Today (Asia/Shanghai) at this local time, as the periodic run would be given it."""
    return datetime.combine(local_today(), day_time(hour, minute), SHANGHAI)


def calls(wechat: RunningServer, path: str) -> int:
    return int(wechat.state()["counters"]["api_calls"].get(path, 0))


def test_the_days_policies_go_out_in_one_broadcast_once(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    # given three policies and a notice (not a broadcast type) delivered to WeChat today
    rt = deploy()
    policies = [approve(rt, team, title=t) for t in TITLES]
    notice = approve(rt, team, type="notice", title="关于调整办公地址的公告")
    wait_for(lambda: delivered(rt, [*policies, notice]), what="all delivered to wechat")
    assert [d["channel"] for d in rt.service.deliveries(notice)] == ["wechat"]

    # before the broadcast hour (18:00 Shanghai by default) nothing is sent
    assert run_digests(rt.db, rt.settings, rt.channels, at(17, 59)) == {"wechat": "none"}
    assert calls(wechat, "message/mass/sendall") == 0 and digest_events(rt) == []

    # when the periodic run comes after the hour
    evening = max(at(18), utcnow())
    run_periodic(rt.db, rt.settings, rt.channels, evening)

    # then exactly one mass message bundling the three policies went to all followers
    state = wechat.state()
    [job] = state["mass"].values()
    assert job["articles"] == 3 and job["filter"] == {"is_to_all": True}
    titles = sorted(a["title"] for a in state["drafts"][job["media_id"]]["news_item"])
    assert titles == sorted(TITLES)
    # and ops can see it in the audit log, with its receipt
    [event] = digest_events(rt)
    assert event["actor"] == "system"
    assert event["data"]["channel"] == "wechat" and event["data"]["day"] == local_today().isoformat()
    assert event["data"]["external_id"] == job["msg_id"]
    assert sorted(event["data"]["receipt"]["uids"]) == sorted(policies)

    # a second run the same day sends nothing (the audit says it is done; the adapter agrees)
    assert run_digests(rt.db, rt.settings, rt.channels, evening) == {"wechat": "done"}
    run_periodic(rt.db, rt.settings, rt.channels, evening)
    adapter = rt.channels.get("wechat")
    views_again = adapter.digest([], day=local_today(), now=evening)
    assert views_again is not None and views_again.external_id == job["msg_id"]
    assert calls(wechat, "message/mass/sendall") == 1 and len(wechat.state()["mass"]) == 1
    assert len(digest_events(rt)) == 1

    # the stand-in's signed MASSSENDJOBFINISH reached /callbacks/wechat and was recorded:
    # digest_status reports it without asking WeChat
    wait_for(
        lambda: any(
            c.get("event") == "MASSSENDJOBFINISH" and c.get("http_status") == 200
            for c in wechat.state()["callbacks"]
        ),
        what="MASSSENDJOBFINISH answered",
    )
    receipt = Receipt(external_id=event["data"]["external_id"], accepted=True, data=event["data"]["receipt"])
    status = adapter.digest_status(receipt)
    assert status is not None and status.delivered is True and status.error is None
    assert calls(wechat, "message/mass/get") == 0


def test_a_failed_broadcast_is_audited_never_raised_and_retried(
    deploy: Deploy, team: Team, wechat: RunningServer
) -> None:
    rt = deploy()
    uid = approve(rt, team, title=TITLES[0])
    wait_for(lambda: delivered(rt, [uid]), what="delivered to wechat")
    evening = max(at(18), utcnow())

    # WeChat busy at sendall: the run returns normally, the failure is in the audit log
    wechat.fault(errcode=-1, count=-1, paths=["message/mass/sendall"])
    run_periodic(rt.db, rt.settings, rt.channels, evening)
    assert run_digests(rt.db, rt.settings, rt.channels, evening) == {"wechat": "failed"}
    failures = digest_events(rt, "channel.digest_failed")
    assert len(failures) == 2 and "errcode -1" in failures[0]["reason"]
    assert failures[0]["data"] == {"channel": "wechat", "day": local_today().isoformat()}
    assert digest_events(rt) == [] and wechat.state()["mass"] == {}

    # once WeChat recovers the next run sends it, reusing the draft already made
    wechat.admin("DELETE", "faults")
    assert run_digests(rt.db, rt.settings, rt.channels, evening) == {"wechat": "sent"}
    [job] = wechat.state()["mass"].values()
    assert job["articles"] == 1 and calls(wechat, "draft/add") == 1 + 1  # the item's own article + the digest
    assert len(digest_events(rt)) == 1


def test_no_broadcast_types_means_no_broadcast(deploy: Deploy, team: Team, wechat: RunningServer) -> None:
    rt = deploy(broadcast_types=[])
    uid = approve(rt, team, title=TITLES[0])
    wait_for(lambda: delivered(rt, [uid]), what="delivered to wechat")
    assert run_digests(rt.db, rt.settings, rt.channels, max(at(18), utcnow())) == {"wechat": "none"}
    assert calls(wechat, "message/mass/sendall") == 0 and digest_events(rt) == []
