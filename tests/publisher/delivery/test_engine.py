"""The engine through the embedded executor, against a real HTTP receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from publisher.runtime import Runtime
from tests.conftest import Team
from tests.receiver import Receiver, webhook_channels
from tests.support import after_sweeps, publish, wait_for

FAST_RETRY = {"retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 5}}


def only_delivery(rt: Runtime, uid: str) -> dict[str, Any]:
    [d] = rt.service.deliveries(uid)
    return d


def test_delivered_once_with_signed_stable_id(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    rt = make_runtime(webhook_channels(receiver.url))
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "delivered")
    d = only_delivery(rt, uid)
    assert d["attempts"] == 1
    assert receiver.ids() == [d["key"]]
    hit = receiver.hits[0]
    assert hit.signature_ok and hit.body["type"] == "item.published" and hit.body["data"]["uid"] == uid
    assert rt.service.item_detail(uid)["delivery_status"] == "published"


def test_500_three_times_then_200_takes_exactly_four_attempts(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.answer(500, 500, 500)
    rt = make_runtime(webhook_channels(receiver.url, **FAST_RETRY))
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "delivered")
    d = only_delivery(rt, uid)
    attempts = rt.service.attempts(d["id"])
    assert [a["outcome"] for a in attempts] == ["transient", "transient", "transient", "success"]
    assert [a["http_status"] for a in attempts] == [500, 500, 500, 200]
    assert all(a["error"] for a in attempts[:3])
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 4  # the same webhook-id each time


def test_429_retry_after_is_honoured(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.answer((429, {"Retry-After": "2"}))
    rt = make_runtime(webhook_channels(receiver.url, **FAST_RETRY))
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "delivered")
    first, second = receiver.hits
    assert second.at - first.at >= 2.0
    outcomes = [a["outcome"] for a in rt.service.attempts(only_delivery(rt, uid)["id"])]
    assert outcomes == ["rate_limited", "success"]


def test_400_fails_at_once_with_one_attempt(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.answer(400)
    rt = make_runtime(webhook_channels(receiver.url, **FAST_RETRY))
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "failed")
    after_sweeps(rt)  # the sweeper looked again: still one attempt
    d = only_delivery(rt, uid)
    assert d["attempts"] == 1 and "400" in d["last_error"]
    assert len(receiver.hits) == 1
    assert rt.service.item_detail(uid)["delivery_status"] == "partially_published"
    # ops replay after the receiver is fixed
    assert rt.engine.replay(d["id"], "ops")
    wait_for(lambda: only_delivery(rt, uid)["state"] == "delivered")
    assert [a["outcome"] for a in rt.service.attempts(d["id"])] == ["permanent", "success"]


def test_attempts_exhausted_fail_with_the_count(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.default = 503
    rt = make_runtime(
        webhook_channels(
            receiver.url,
            retry={"base_seconds": 0.02, "cap_seconds": 0.05, "max_attempts": 3},
            breaker={"failures": 100},
        )
    )
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "failed")
    d = only_delivery(rt, uid)
    assert d["attempts"] == 3 and "3" in d["last_error"]
    assert len(receiver.hits) == 3


def test_breaker_opens_holds_probes_and_closes(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.default = 503
    rt = make_runtime(
        webhook_channels(
            receiver.url,
            retry={"base_seconds": 0.05, "cap_seconds": 0.1, "max_attempts": 50},
            breaker={"failures": 3, "cooldown_seconds": 3.0, "min_samples": 100},
        )
    )
    uids = [publish(rt.service, team, title=f"政策{i}") for i in range(4)]
    # the breaker opens after 3 consecutive failures and the deliveries are held, not burnt
    wait_for(lambda: any(e["action"] == "breaker.open" for e in rt.service.audit_events()))
    wait_for(lambda: all(only_delivery(rt, u)["state"] in ("held", "retry_wait") for u in uids))
    # (counted once the sends in flight when it opened are recorded)
    hits_when_open = len(receiver.hits)
    after_sweeps(rt)  # within the cooldown (3 s) the sweeper attempts nothing
    assert len(receiver.hits) == hits_when_open
    # the receiver recovers: after the cooldown one probe goes out, succeeds, and the breaker closes
    receiver.default = 200
    wait_for(lambda: all(only_delivery(rt, u)["state"] == "delivered" for u in uids))
    actions = [e["action"] for e in rt.service.audit_events() if e["action"].startswith("breaker.")]
    assert actions[:3] == ["breaker.open", "breaker.half_open", "breaker.closed"]
    for u in uids:
        attempts = rt.service.attempts(only_delivery(rt, u)["id"])
        assert attempts[-1]["outcome"] == "success"
        assert len(attempts) <= 4


def test_410_disables_the_subscription_without_losing_anything(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.answer(410)
    rt = make_runtime(webhook_channels(receiver.url, **FAST_RETRY))
    uid = publish(rt.service, team)
    wait_for(lambda: only_delivery(rt, uid)["state"] == "held")
    assert any(e["action"] == "channel.pause" for e in rt.service.audit_events())
    second = publish(rt.service, team, title="第二份政策")
    wait_for(lambda: only_delivery(rt, second)["state"] == "held")
    assert len(receiver.hits) == 1  # nothing sent while disabled
    rt.engine.resume("webhook.hooks", "ops")
    wait_for(lambda: all(only_delivery(rt, u)["state"] == "delivered" for u in (uid, second)))


def test_newer_version_supersedes_unsent_delivery(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    rt = make_runtime(webhook_channels(receiver.url, **FAST_RETRY))
    rt.engine.pause("webhook.hooks", "维护", "ops")
    uid = publish(rt.service, team)
    rt.service.withdraw(team.approver, uid, "撤回测试")
    rt.engine.resume("webhook.hooks", "ops")
    wait_for(
        lambda: any(
            d["operation"] == "withdraw" and d["state"] == "delivered" for d in rt.service.deliveries(uid)
        )
    )
    states = {(d["operation"], d["state"]) for d in rt.service.deliveries(uid)}
    assert states == {("publish", "superseded"), ("withdraw", "delivered")}
    assert [h.body["type"] for h in receiver.hits] == ["item.withdrawn"]
