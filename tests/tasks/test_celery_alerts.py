"""Alerts in Celery mode: the worker's ledger transitions record them, and the alert clock
runs after beat's sweeps on a worker, so ops are told with no `publisher serve` running."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from tests.receiver import SECRET, Receiver

from .conftest import Cluster
from .harness import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def alerts_rx() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_a_failure_for_good_is_alerted_by_the_workers(
    cluster: Callable[..., Cluster],
    pg_url: str,
    shared_redis_url: str,
    receiver: Receiver,
    alerts_rx: Receiver,
) -> None:
    # given a subscriber that refuses for good, a worker, beat, and alerts configured only
    # through the workers' environment (this test process sends nothing)
    receiver.default = 400
    c = cluster(
        db_url=pg_url,
        broker_url=shared_redis_url,
        subscribers={"hooks": receiver.url},
        env={
            "PUBLISHER_ALERTS_WEBHOOKS": json.dumps([alerts_rx.url]),
            "PUBLISHER_ALERTS_WEBHOOK_SECRET": SECRET,
            "PUBLISHER_ALERTS_GROUP_WAIT_SECONDS": "3",  # both failures in one message
        },
    )
    c.add_worker("w1")
    c.start_beat()
    # when two items' deliveries fail for good
    c.publish(title="集群模式告警一")
    c.publish(title="集群模式告警二")
    try:
        wait_until(lambda: any(h.status == 200 for h in alerts_rx.hits), 60, "no alert")
    except AssertionError:
        raise AssertionError(f"no alert arrived: {c.states()}\n{c.logs()}") from None
    # then the worker's clock told ops, signed, once for the group, naming both items
    hit = next(h for h in alerts_rx.hits if h.status == 200)
    assert hit.signature_ok and hit.body["kind"] == "delivery.failed"
    assert hit.body["channel"] == "webhook.hooks"
    wait_until(lambda: c.states().get("failed", 0) == 2, 30, "both failed")
    titles = {i["title"] for h in alerts_rx.hits for i in h.body["items"]}
    assert titles == {"集群模式告警一", "集群模式告警二"}
