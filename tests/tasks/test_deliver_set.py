"""One message for an approval's deliveries on several channels (publisher.deliver_set): the
executor's message plan, and the worker side (one joint claim, each channel's share on its
own lane) on SQLite and PostgreSQL against real receivers, no broker traffic."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from publisher.delivery.engine import Engine
from publisher.runtime import Runtime
from publisher.store.models import Attempt, Delivery
from tasks.config import SET_QUEUE, CeleryOptions, make_app, queue_for
from tasks.executor import CeleryExecutor
from tasks.worker import WorkerState
from tests.conftest import Team, redis_url
from tests.receiver import Receiver, webhook_channels
from tests.samples import policy
from tests.support import approve_existing, wait_for

SLOW = 1.5  # seconds the slow receiver takes to answer


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    r = Receiver(delay=SLOW).start()
    yield r
    r.stop()


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], receiver: Receiver, slow_receiver: Receiver) -> Runtime:
    """webhook.a (instant), webhook.b (instant) and webhook.slow; a broker URL that is never
    used here (nothing is dispatched: every test hands ids to the worker state itself)."""
    channels = {
        **webhook_channels(receiver.url + "/a", "a"),
        **webhook_channels(receiver.url + "/b", "b"),
        **webhook_channels(slow_receiver.url + "/slow", "slow"),
    }
    return make_runtime(channels, executor=False, broker={"url": redis_url(9)})


@pytest.fixture
def worker(rt: Runtime) -> Iterator[WorkerState]:
    options = CeleryOptions(lane_slots=1)
    state = WorkerState(rt.settings, make_app(rt.settings), options)
    yield state
    state.close()


def approve_one(rt: Runtime, team: Team) -> dict[str, int]:
    """One approved policy; its delivery id per channel."""
    item = rt.service.create_item(team.editor, policy(title="关于联合认领的通知"))
    outcome = approve_existing(rt, team, item.uid)
    return {channel: did for did, channel in outcome.channels.items()}


def states(rt: Runtime) -> dict[int, str]:
    with rt.db.reader() as s:
        return dict(s.execute(select(Delivery.id, Delivery.state)).tuples().all())


def test_an_approval_is_one_message_a_backlog_goes_per_channel(rt: Runtime) -> None:
    executor = CeleryExecutor(
        Engine(rt.db, rt.settings, rt.channels),
        app=make_app(rt.settings),
        options=CeleryOptions(batch_size=4),
    )
    plan = executor._messages({"webhook.a": [1], "webhook.b": [2], "webhook.slow": [3]})
    assert plan == [
        (
            "publisher.deliver_set",
            [{"webhook.a": [1], "webhook.b": [2], "webhook.slow": [3]}],
            SET_QUEUE,
            [1, 2, 3],
        )
    ]
    # one channel: its own queue; more than a batch: each channel's queue, in batches
    assert executor._messages({"webhook.a": [1, 2]}) == [
        ("publisher.deliver_batch", ["webhook.a", [1, 2]], queue_for("webhook.a"), [1, 2])
    ]
    big = executor._messages({"webhook.a": [1, 2, 3], "webhook.b": [4, 5]})
    assert [(m[0], m[2], m[3]) for m in big] == [
        ("publisher.deliver_batch", queue_for("webhook.a"), [1, 2, 3]),
        ("publisher.deliver_batch", queue_for("webhook.b"), [4, 5]),
    ]
    # the sweeper's hand-over never combines: it reaches workers pinned to channel queues
    assert [m[2] for m in executor._messages({"webhook.a": [1], "webhook.b": [2]}, combine=False)] == [
        queue_for("webhook.a"),
        queue_for("webhook.b"),
    ]
    # the worker consumes the set queue by default
    assert SET_QUEUE in {q.name for q in executor.app.conf.task_queues}


def test_set_is_claimed_together_and_each_channel_recorded_on_its_own(
    rt: Runtime, team: Team, worker: WorkerState, receiver: Receiver, slow_receiver: Receiver
) -> None:
    ids = approve_one(rt, team)
    assert set(ids) == {"webhook.a", "webhook.b", "webhook.slow"}
    started = time.monotonic()
    claimed = worker.deliver_set({c: [i] for c, i in ids.items()})
    # the message is done once the claims are made: the sends run on the lanes
    assert claimed == 3 and time.monotonic() - started < SLOW
    wait_for(lambda: states(rt)[ids["webhook.a"]] == states(rt)[ids["webhook.b"]] == "delivered", 10)
    # the instant channels are recorded while the slow one is still waiting for its answer
    assert states(rt)[ids["webhook.slow"]] == "sending"
    wait_for(lambda: states(rt)[ids["webhook.slow"]] == "delivered", 10)
    with rt.db.reader() as s:
        attempts = s.execute(select(Attempt.delivery_id, Attempt.outcome)).all()
    assert sorted(attempts) == sorted((i, "success") for i in ids.values())
    assert sorted(h.path for h in receiver.hits) == ["/hook/a", "/hook/b"]
    assert [h.path for h in slow_receiver.hits] == ["/hook/slow"]


def test_busy_channel_gets_its_share_parked_not_claimed(
    rt: Runtime, team: Team, worker: WorkerState, receiver: Receiver
) -> None:
    ids = approve_one(rt, team)
    lane = worker.lane("webhook.a")
    assert lane.reserve_or_park([])  # this test holds webhook.a's only slot
    assert worker.deliver_set({c: [i] for c, i in ids.items()}) == 2
    wait_for(lambda: states(rt)[ids["webhook.b"]] == "delivered", 10)
    assert states(rt)[ids["webhook.a"]] == "queued"  # parked in the lane, never claimed
    assert lane.run_claimed([]) == 1  # the slot's holder drains what was parked
    assert states(rt)[ids["webhook.a"]] == "delivered"
    wait_for(lambda: states(rt)[ids["webhook.slow"]] == "delivered", 10)


def test_claims_lost_to_another_worker_are_left_alone(
    rt: Runtime, team: Team, worker: WorkerState, receiver: Receiver
) -> None:
    ids = approve_one(rt, team)
    other = Engine(rt.db, rt.settings, rt.channels, worker="other")
    claimed, _ = other.claim_batch([ids["webhook.b"]])
    assert [c.delivery_id for c in claimed] == [ids["webhook.b"]]
    assert worker.deliver_set({c: [i] for c, i in ids.items()}) == 2
    wait_for(lambda: states(rt)[ids["webhook.a"]] == "delivered", 10)
    assert states(rt)[ids["webhook.b"]] == "sending"  # the other worker's lease
    other.deliver_claimed(claimed)
    assert states(rt)[ids["webhook.b"]] == "delivered"
    assert sorted(h.path for h in receiver.hits) == ["/hook/a", "/hook/b"]
    # every lane releases its slot once its share is done
    wait_for(lambda: all(worker.lane(c).idle for c in ids), 10)
    assert states(rt)[ids["webhook.slow"]] == "delivered"
