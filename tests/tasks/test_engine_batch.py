"""The engine methods the broker path relies on (batch delivery, dispatch marks, the
broker-aware sweep), on SQLite and PostgreSQL, against a real receiver, no executor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from publisher.delivery import ledger
from publisher.delivery.engine import Engine
from publisher.domain.clock import utcnow
from publisher.runtime import Runtime
from publisher.store.models import Attempt, ChannelState, Delivery
from tests.conftest import Team
from tests.receiver import Receiver, webhook_channels
from tests.support import publish


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver) -> Runtime:
    channels = {**webhook_channels(receiver.url + "/a", "a"), **webhook_channels(receiver.url + "/b", "b")}
    runtime = make_runtime(channels, executor=False)
    runtime.extras["engine"] = Engine(runtime.db, runtime.settings, runtime.channels)
    return runtime


def engine_of(rt: Runtime) -> Engine:
    e = rt.extras["engine"]
    assert isinstance(e, Engine)
    return e


def approve(rt: Runtime, team: Team, n: int) -> list[int]:
    for i in range(n):
        publish(rt, team, title=f"批量通知{i}")
    with rt.db.reader() as s:
        return list(s.execute(select(Delivery.id).order_by(Delivery.id)).scalars())


def test_batch_delivers_every_claimable_delivery_once(rt: Runtime, team: Team, receiver: Receiver) -> None:
    ids = approve(rt, team, 5)
    assert len(ids) == 10
    with ThreadPoolExecutor(4) as pool:
        results = engine_of(rt).process_batch(ids, pool=pool)
    assert results == dict.fromkeys(ids, "delivered")
    # a second run finds nothing to claim
    assert engine_of(rt).process_batch(ids) == dict.fromkeys(ids, "skipped")
    with rt.db.reader() as s:
        states = set(s.execute(select(Delivery.state)).scalars())
        attempts = s.execute(select(Attempt.delivery_id, Attempt.outcome, Attempt.http_status)).all()
        keys = set(s.execute(select(Delivery.key)).scalars())
    assert states == {"delivered"}
    assert sorted(a[0] for a in attempts) == ids and {(a[1], a[2]) for a in attempts} == {("success", 200)}
    assert set(receiver.ids(200)) == keys and len(receiver.hits) == 10
    assert {h.path for h in receiver.hits} == {"/hook/a", "/hook/b"}


def test_batch_records_each_outcome_on_its_own(rt: Runtime, team: Team, receiver: Receiver) -> None:
    ids = approve(rt, team, 2)  # a1 b1 a2 b2 in id order; sent one by one without a pool
    receiver.answer(400, 503)
    results = engine_of(rt).process_batch(ids)
    assert sorted(results.values()) == ["delivered", "delivered", "permanent", "transient"]
    with rt.db.reader() as s:
        rows = {d.id: d for d in s.execute(select(Delivery)).scalars()}
    failed = [i for i, r in results.items() if r == "permanent"]
    waiting = [i for i, r in results.items() if r == "transient"]
    assert rows[failed[0]].state == "failed" and "400" in (rows[failed[0]].last_error or "")
    assert rows[waiting[0]].state == "retry_wait" and rows[waiting[0]].dispatched_at is None


def test_paused_channel_holds_its_part_of_the_batch(rt: Runtime, team: Team, receiver: Receiver) -> None:
    ids = approve(rt, team, 2)
    engine_of(rt).pause("webhook.b", "维护", "ops")
    results = engine_of(rt).process_batch(ids)
    channels = engine_of(rt).channel_of(ids)
    assert {channels[i]: r for i, r in results.items()} == {"webhook.a": "delivered", "webhook.b": "held"}
    assert {h.path for h in receiver.hits} == {"/hook/a"}


def test_open_breaker_past_cooldown_sends_one_probe_and_holds_the_rest(
    rt: Runtime, team: Team, receiver: Receiver
) -> None:
    ids = approve(rt, team, 3)
    with rt.db.transaction() as s:
        ledger.channel_state(s, "webhook.a")
        s.execute(
            update(ChannelState)
            .where(ChannelState.channel == "webhook.a")
            .values(breaker="open", opened_at=utcnow() - timedelta(hours=1))
        )
    a_ids = [i for i, c in engine_of(rt).channel_of(ids).items() if c == "webhook.a"]
    results = engine_of(rt).process_batch(a_ids)
    assert [results[i] for i in sorted(a_ids)] == ["delivered", "held", "held"]
    with rt.db.reader() as s:
        st = s.get(ChannelState, "webhook.a")
        assert st is not None and st.breaker == "closed"
        # the probe's success closed the breaker and released the held ones
        assert {d.state for d in s.execute(select(Delivery).where(Delivery.id.in_(a_ids[1:]))).scalars()} == {
            "queued"
        }


def test_broker_sweep_hands_over_only_undispatched_or_stale(rt: Runtime, team: Team) -> None:
    ids = approve(rt, team, 2)
    e = engine_of(rt)
    assert e.sweep(stale_after=60)[0] == ids  # never dispatched: all
    e.mark_dispatched(ids[:3])
    assert e.sweep(stale_after=60)[0] == ids[3:]  # the dispatched ones are left to the broker
    assert e.sweep(stale_after=0)[0] == ids  # ...until their dispatch is stale
    e.mark_dispatched(ids[:1], dispatched=False)  # the broker refused it
    assert e.sweep(stale_after=60)[0] == [ids[0], ids[3]]


def test_channel_state_created_by_two_workers_at_once(rt: Runtime) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def first_touch() -> None:
        try:
            with rt.db.transaction() as s:
                barrier.wait()
                ledger.channel_state(s, "webhook.new", lock=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_touch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with rt.db.reader() as s:
        assert (
            s.execute(select(ChannelState).where(ChannelState.channel == "webhook.new")).scalar_one().breaker
            == "closed"
        )
