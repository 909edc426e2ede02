"""Ordering and recovery in the ledger: a later operation never overtakes the one in flight,
a reclaimed stale send is superseded, ops can expedite waiting retries, and deadlocks are
retried by the store layer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from publisher.runtime import Runtime
from publisher.store.db import Database
from publisher.store.models import Delivery
from tests.conftest import Team
from tests.receiver import Receiver, webhook_channels
from tests.support import after_sweeps, publish, wait_for


def states(rt: Runtime, uid: str) -> list[tuple[str, str]]:
    return [(d["operation"], d["state"]) for d in rt.service.deliveries(uid)]


def test_withdrawal_waits_for_the_update_in_flight(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    # given a publication that is still being sent (the receiver takes 1.5 s to answer)
    receiver.answer((200, {}, 1.5))
    rt = make_runtime(webhook_channels(receiver.url))
    uid = publish(rt.service, team)
    wait_for(lambda: states(rt, uid) == [("publish", "sending")])
    # when the item is withdrawn meanwhile
    rt.service.withdraw(team.approver, uid, "撤回")
    # then the withdrawal goes out only after the publication, never before it
    wait_for(lambda: states(rt, uid) == [("publish", "delivered"), ("withdraw", "delivered")])
    assert [h.body["type"] for h in receiver.hits] == ["item.published", "item.withdrawn"]


def test_a_reclaimed_stale_send_is_superseded_by_the_newer_delivery(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    rt = make_runtime(webhook_channels(receiver.url), start=False)
    uid = publish(rt.service, team)
    [pub] = rt.service.deliveries(uid)
    # a worker claimed the publication and died: its lease has run out
    with rt.db.transaction() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == pub["id"])
            .values(
                state="sending",
                attempts=1,
                lease_owner="dead-worker",
                lease_expires_at=datetime.now(UTC) - timedelta(seconds=5),
                updated_at=datetime.now(UTC),
            )
        )
    rt.service.withdraw(team.approver, uid, "撤回")
    rt.start()
    wait_for(lambda: ("withdraw", "delivered") in states(rt, uid))
    assert states(rt, uid) == [("publish", "superseded"), ("withdraw", "delivered")]
    assert [h.body["type"] for h in receiver.hits] == ["item.withdrawn"]  # the stale send never went out
    assert [a["outcome"] for a in rt.service.attempts(pub["id"])] == ["lost"]


def test_ops_can_make_waiting_retries_due_now(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Receiver
) -> None:
    receiver.answer((429, {"Retry-After": "3600"}))
    rt = make_runtime(webhook_channels(receiver.url))
    uid = publish(rt.service, team)
    wait_for(lambda: states(rt, uid) == [("publish", "retry_wait")])
    after_sweeps(rt)
    assert len(receiver.hits) == 1  # an hour to wait
    ids = rt.engine.retry_now("webhook.hooks", "ops")
    assert len(ids) == 1
    wait_for(lambda: states(rt, uid) == [("publish", "delivered")])
    assert any(e["action"] == "channel.retry_now" for e in rt.service.audit_events())


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_deadlock_is_retried_and_both_transactions_commit(db: Database, team: Team) -> None:
    # two transactions lock the same two rows in opposite orders: PostgreSQL kills one with a
    # deadlock, and Database.run runs it again
    with db.transaction() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS deadlock_probe (id int primary key, n int)"))
        s.execute(text("DELETE FROM deadlock_probe"))
        s.execute(text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
    barrier = threading.Barrier(2)
    tries = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def work(name: str, first: int, second: int) -> None:
        def fn(s: Any) -> None:
            tries[name] += 1
            s.execute(text("UPDATE deadlock_probe SET n = n + 1 WHERE id = :i"), {"i": first})
            if tries[name] == 1:
                barrier.wait(timeout=10)
            s.execute(text("UPDATE deadlock_probe SET n = n + 1 WHERE id = :i"), {"i": second})

        try:
            db.run(fn)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=("a", 1, 2)),
        threading.Thread(target=work, args=("b", 2, 1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(tries.values()) == [1, 2]  # exactly one of them was run again
    with db.reader() as s:
        assert sorted(s.execute(text("SELECT n FROM deadlock_probe")).scalars()) == [2, 2]
        s.execute(text("DROP TABLE deadlock_probe"))
        s.commit()


def test_the_embedded_executor_runs_the_compliance_checks_on_its_clock(
    make_runtime: Callable[..., Runtime], team: Team
) -> None:
    from publisher.compliance.consultations import reminders
    from tests.samples import sample

    # a consultation that closed long ago is published; nobody runs the checks by hand
    rt = make_runtime(
        {"rss": {"enabled": True}},
        threads=1,
        start=False,
        executor_section={"compliance_interval_seconds": 0.2},
    )
    item = rt.service.create_item(team.editor, sample("consult-2019-01"))
    rt.service.submit(team.editor, item.uid)
    rt.service.review(team.reviewer, item.uid)
    rt.service.approve(team.approver, item.uid)
    rt.start()

    def reminded() -> bool:
        with rt.db.reader() as session:
            return any(r["item"] == item.uid for r in reminders(session))

    wait_for(reminded, what="the adoption-report reminder")
