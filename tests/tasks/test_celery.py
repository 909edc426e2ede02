"""The engine through Celery: real Redis, real `celery worker` and `celery beat` processes,
PostgreSQL, and a real HTTP receiver. Workers are killed with SIGKILL and the broker is
stopped mid-run; the ledger must bring every delivery home exactly once in effect."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tasks.heartbeat import live_workers
from tests.receiver import Receiver
from tests.support import wait_for

from .conftest import Cluster
from .harness import RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FAST_RETRY = {"retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 5}}
NO_BREAKER = {"breaker": {"failures": 1000, "min_samples": 1000}}


def wait_all_final(c: Cluster, total: int, timeout: float) -> None:
    try:
        wait_for(lambda: c.states().get("delivered", 0) + c.states().get("failed", 0) >= total, timeout)
    except AssertionError:
        raise AssertionError(f"not all deliveries finished: {c.states()}\n{c.logs()}") from None


def assert_each_delivered_once(c: Cluster, receiver: Receiver, total: int) -> None:
    deliveries = c.deliveries()
    assert len(deliveries) == total
    assert Counter(d.state for d in deliveries) == {"delivered": total}
    successes = Counter(a.delivery_id for a in c.attempts() if a.outcome == "success")
    assert all(successes[d.id] == 1 for d in deliveries), {d.id: successes[d.id] for d in deliveries}
    seen = set(receiver.ids(200))
    assert all(d.key in seen for d in deliveries)


def test_500_three_times_then_200_takes_exactly_four_attempts(
    cluster: Callable[..., Cluster], pg_url: str, shared_redis_url: str, receiver: Receiver
) -> None:
    receiver.answer(500, 500, 500)
    c = cluster(
        db_url=pg_url, broker_url=shared_redis_url, subscribers={"hooks": receiver.url}, webhook=FAST_RETRY
    )
    c.add_worker("w1")
    c.start_beat()
    c.publish()
    wait_all_final(c, 1, 60)
    [d] = c.deliveries()
    assert d.state == "delivered" and d.attempts == 4
    attempts = c.attempts()
    assert [a.outcome for a in attempts] == ["transient", "transient", "transient", "success"]
    assert [a.http_status for a in attempts] == [500, 500, 500, 200]
    assert all(a.error and "500" in a.error for a in attempts[:3])
    assert receiver.ids() == [d.key] * 4  # the same webhook-id each time


def test_429_retry_after_is_honoured(
    cluster: Callable[..., Cluster], pg_url: str, shared_redis_url: str, receiver: Receiver
) -> None:
    receiver.answer((429, {"Retry-After": "2"}))
    c = cluster(
        db_url=pg_url, broker_url=shared_redis_url, subscribers={"hooks": receiver.url}, webhook=FAST_RETRY
    )
    c.add_worker("w1")
    c.start_beat()
    c.publish()
    wait_all_final(c, 1, 60)
    first, second = receiver.hits
    assert second.at - first.at >= 2.0  # the retry waited in the ledger, not in a broker countdown
    assert [(a.outcome, a.http_status) for a in c.attempts()] == [("rate_limited", 429), ("success", 200)]


def test_400_fails_at_once_with_one_attempt(
    cluster: Callable[..., Cluster], pg_url: str, shared_redis_url: str, receiver: Receiver
) -> None:
    receiver.answer(400)
    c = cluster(
        db_url=pg_url, broker_url=shared_redis_url, subscribers={"hooks": receiver.url}, webhook=FAST_RETRY
    )
    w1 = c.add_worker("w1")
    c.start_beat()
    # the worker announces itself for /readyz
    wait_for(
        lambda: any(n.startswith("w1@") for n in live_workers(shared_redis_url)), 20, "no worker heartbeat"
    )
    c.publish()
    wait_all_final(c, 1, 60)
    c.after_sweeps(3)  # a few sweeps later: still one attempt
    [d] = c.deliveries()
    assert d.state == "failed" and d.attempts == 1 and d.last_error and "400" in d.last_error
    [a] = c.attempts()
    assert a.outcome == "permanent" and a.http_status == 400
    assert len(receiver.hits) == 1
    w1.stop()  # a warm shutdown takes its heartbeat with it
    assert not any(n.startswith("w1@") for n in live_workers(shared_redis_url))


SUBSCRIBERS = ("a", "b", "c", "d")


def test_worker_killed_mid_send_repeatedly_loses_nothing(
    cluster: Callable[..., Cluster], pg_url: str, shared_redis_url: str, receiver: Receiver
) -> None:
    """Items x 4 subscribers; worker w1 is SIGKILLed three times while sending (and
    restarted), w2 keeps running. Leases are 2 s; stale dispatches 3 s. Approvals keep coming
    until the third kill (at least 50 items), so however slow the machine, every kill finds
    work in flight instead of waiting for sends that were all done already."""
    receiver.delay = (
        0.3  # sends take a while (and a share is claimed at once), so kills land with sends in flight
    )
    c = cluster(
        db_url=pg_url,
        broker_url=shared_redis_url,
        subscribers={s: f"{receiver.url}/{s}" for s in SUBSCRIBERS},
        webhook={**FAST_RETRY, **NO_BREAKER},
    )
    w1 = c.add_worker("w1")
    c.add_worker("w2")
    c.start_beat()
    errors: list[BaseException] = []
    stop = threading.Event()
    published: list[int] = []

    def produce() -> None:
        try:
            i = 0
            while i < 50 or not stop.is_set():
                c.publish(title=f"关于财政资金管理的通知（第{i}号）")
                published.append(i)
                i += 1
                time.sleep(0.2)
        except BaseException as exc:  # surfaced by the test thread
            errors.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    for _ in range(3):
        # w1 is up and consuming again (its log says ready), 20 more hits, then it is killed
        wait_for(lambda: w1.ready_count() >= w1.starts, 60, "w1 never came up")
        threshold = len(receiver.hits) + 20
        wait_for(lambda t=threshold: len(receiver.hits) >= t, 90, f"receiver stuck below {threshold} hits")  # type: ignore[misc]
        w1.kill(signal.SIGKILL)
        w1.start()
    stop.set()
    producer.join(180)
    assert not producer.is_alive() and not errors, errors
    assert w1.starts == 4
    total = 4 * len(published)
    wait_all_final(c, total, 180)
    assert_each_delivered_once(c, receiver, total)
    # the kills interrupted sends: the sweeper recorded the lost attempts and resent them
    lost = [a for a in c.attempts() if a.outcome == "lost"]
    assert lost, "no send was in flight when w1 was killed"
    assert all(a.error and "租约" in a.error for a in lost)


def test_redis_down_for_30_seconds_loses_nothing(
    cluster: Callable[..., Cluster], pg_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    """A private redis-server (no persistence) is stopped for 30 s in the middle of a run:
    every queued message is gone with it, and approvals during the outage cannot reach it."""
    receiver.delay = 0.05
    broker = RedisServer(tmp_path).start()
    try:
        c = cluster(
            db_url=pg_url,
            broker_url=broker.url,
            subscribers={s: f"{receiver.url}/{s}" for s in SUBSCRIBERS},
            webhook={**FAST_RETRY, **NO_BREAKER},
        )
        c.add_worker("w1")
        c.add_worker("w2")
        c.start_beat()
        for i in range(10):
            c.publish(title=f"停机前的通知（第{i}号）")
        wait_for(lambda: len(receiver.hits) >= 8, 30, "nothing delivered before the outage")
        broker.stop(signal.SIGTERM)
        down_at = time.monotonic()
        delivered_when_down = len(receiver.hits)
        for i in range(5):  # approved while the broker is down: the hand-over fails, the ledger keeps them
            c.publish(title=f"停机期间的通知（第{i}号）")
        assert c.states().get("delivered", 0) < 60
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
        broker.start()
        wait_all_final(c, 60, 120)
        assert_each_delivered_once(c, receiver, 60)
        assert len(receiver.hits) > delivered_when_down
    finally:
        broker.stop(signal.SIGKILL)


def test_messages_lost_with_the_broker_are_redelivered_within_10_s_of_its_recovery(
    cluster: Callable[..., Cluster], pg_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    """Messages waiting in a broker that restarts empty are gone; the first sweep after the
    restart notices (its epoch key is missing) and hands every due delivery over again at
    once, instead of after celery.dispatch_stale_seconds (120 s). Measured from the moment
    the broker and a worker are both back."""
    broker = RedisServer(tmp_path).start()
    try:
        c = cluster(
            db_url=pg_url,
            broker_url=broker.url,
            subscribers={"hooks": receiver.url},
            webhook={**FAST_RETRY, **NO_BREAKER},
            # the production default: a lost message is otherwise re-sent only after 120 s
            env={"PUBLISHER_DISPATCH_STALE_SECONDS": "120"},
        )
        worker = c.add_worker("w1", concurrency=2)
        c.start_beat()
        c.after_sweeps(2)  # the broker's epoch key is set by the first sweep
        worker.stop()  # no consumer: the approvals' messages wait in the broker
        total = 10
        for i in range(total):
            c.publish(title=f"排队中的通知（第{i}号）")
        lost = {d.id for d in c.deliveries() if d.state == "queued" and d.dispatched_at is not None}
        assert len(lost) == total, c.states()
        broker.stop(signal.SIGKILL)
        broker.start()  # empty (no persistence): those messages are gone
        again = c.add_worker("w2", concurrency=2)
        wait_for(lambda: again.ready_count() >= 1, 60, "w2 never became ready")
        back = time.monotonic()  # broker and worker both back
        wait_all_final(c, total, 60)
        took = time.monotonic() - back
        assert_each_delivered_once(c, receiver, total)
        print(f"\nbroker back -> all {total} lost deliveries delivered in {took:.1f} s")
        assert took < 10, f"{took:.1f} s"
    finally:
        broker.stop(signal.SIGKILL)
