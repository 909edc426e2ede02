"""Alerts in Celery mode: the worker's ledger transitions, the compliance checks beat schedules
and the web side's pause record them, and the alert clock runs after beat's sweeps on a
worker, so ops are told with no `publisher serve` running."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.receiver import SECRET, Receiver
from tests.samples import policy
from tests.support import wait_for

from .conftest import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_failures_a_pause_and_a_deadline_are_alerted_by_the_workers(
    cluster: Callable[..., Cluster],
    pg_url: str,
    shared_redis_url: str,
    receiver: Receiver,
    alerts_rx: Receiver,
) -> None:
    # given a subscriber that refuses for good, a worker, beat running the compliance checks
    # every 2 s, and alerts configured only through the workers' environment (this process,
    # the web side, records alerts with what it does but sends nothing)
    receiver.default = 400
    c = cluster(
        db_url=pg_url,
        broker_url=shared_redis_url,
        subscribers={"hooks": receiver.url},
        env={
            "PUBLISHER_ALERTS_WEBHOOKS": json.dumps([alerts_rx.url]),
            "PUBLISHER_ALERTS_WEBHOOK_SECRET": SECRET,
            "PUBLISHER_ALERTS_GROUP_WAIT_SECONDS": "3",  # both failures in one message
            "PUBLISHER_EXECUTOR_COMPLIANCE_INTERVAL_SECONDS": "2",
        },
    )
    # a draft formed long ago: its 20-working-day clock is overdue
    overdue = c.runtime.service.create_item(
        c.actors["editor"], policy(formed_at="2024-09-25", title="集群模式逾期未公开")
    ).uid
    c.add_worker("w1")
    c.start_beat()

    def told(kind: str) -> list[dict[str, Any]]:
        return [h.body for h in alerts_rx.hits if h.status == 200 and h.body.get("kind") == kind]

    def wait_told(kind: str) -> dict[str, Any]:
        try:
            wait_for(lambda: told(kind) != [], 60, f"no {kind} alert")
        except AssertionError:
            raise AssertionError(f"no {kind} alert arrived: {c.states()}\n{c.logs()}") from None
        return told(kind)[0]

    # when two items' deliveries fail for good
    c.publish(title="集群模式告警一")
    c.publish(title="集群模式告警二")
    # then the worker's clock told ops, once for the group, naming both items
    failed = wait_told("delivery.failed")
    assert failed["channel"] == "webhook.hooks"
    wait_for(lambda: c.states().get("failed", 0) == 2, 30, "both failed")
    assert {i["title"] for b in told("delivery.failed") for i in b["items"]} == {
        "集群模式告警一",
        "集群模式告警二",
    }
    # and the compliance check beat scheduled on the worker told them the draft is overdue
    deadline = wait_told("deadline.overdue")
    assert deadline["items"] == [{"uid": overdue, "title": "集群模式逾期未公开"}]
    assert "公开时限已超期" in deadline["title"] and "临近" not in deadline["text"]
    # when ops pause the channel from the web side, the workers tell that too
    ops = c.runtime.service.add_user("ops", "ops")[0]
    c.runtime.deliveries.pause(ops, "webhook.hooks", "对端维护")
    paused = wait_told("channel.paused")
    assert paused["channel"] == "webhook.hooks" and "对端维护" in paused["text"]
    assert all(h.signature_ok for h in alerts_rx.hits)
