"""The database-backed Checkpoints and SharedValues adapters get through their ChannelContext,
on SQLite and PostgreSQL alike: progress survives a new process (a new Database), a replay
clears it, values expire, and a lease has one holder at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable

from channels.base import MemoryValues, SharedValues
from publisher.delivery.checkpoints import DbCheckpoints, DbValues
from publisher.runtime import Runtime
from publisher.store.db import Database
from tests.conftest import Team
from tests.support import publish, wait_for


def test_progress_is_durable_and_a_replay_starts_afresh(
    make_runtime: Callable[..., Runtime], team: Team
) -> None:
    rt = make_runtime({"rss": {"enabled": True}}, threads=1)
    uid = publish(rt.service, team)
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "delivered")
    [d] = rt.service.deliveries(uid)
    key = _key_of(rt.db, d["id"])
    rt.channels.context("rss").checkpoints.save(key, {"media_id": "m1", "images": {"a": "b"}})

    # a new process sees it (nothing is kept in memory)
    other = Database(rt.settings.db_url)
    try:
        assert DbCheckpoints(other).load(key) == {"media_id": "m1", "images": {"a": "b"}}
        DbCheckpoints(other).save(key, {"media_id": "m2"})
        assert DbCheckpoints(rt.db).load(key) == {"media_id": "m2"}
    finally:
        other.dispose()

    # a replay of the failed delivery clears it
    from sqlalchemy import update

    from publisher.store.models import Delivery

    with rt.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.id == d["id"]).values(state="failed"))
    rt.deliveries.replay(team.ops, d["id"])
    assert DbCheckpoints(rt.db).load(key) == {}


def _key_of(db: Database, delivery_id: int) -> str:
    from publisher.store.models import Delivery

    with db.reader() as s:
        row = s.get(Delivery, delivery_id)
        assert row is not None
        return row.key


def check_values(values: SharedValues, other: SharedValues) -> None:
    values.put("token:app", {"token": "t1"}, ttl=60)
    values.put("article:u1:a1", {"article_id": "a1"})
    values.put("article:u1:a2", {"article_id": "a2"})
    values.put("article:u10:a3", {"article_id": "a3"})
    values.put("article_x", 1)  # "_" is not a wildcard
    assert values.get("token:app") == {"token": "t1"}
    assert sorted(values.items("article:u1:")) == ["article:u1:a1", "article:u1:a2"]
    # TTLs of a second: a loaded machine may stall a few hundred ms between two lines
    values.put("token:app", {"token": "t2"}, ttl=1)
    assert values.get("token:app") == {"token": "t2"}
    wait_for(lambda: values.get("token:app") is None, 5, "the token expired")
    assert "token:app" not in values.items("token")
    values.delete("article:u1:a1")
    assert values.get("article:u1:a1") is None

    # a lease: one holder; another owner gets it after release or expiry
    assert values.claim("lock", "w1", 60) and values.claim("lock", "w1", 60)
    assert not other.claim("lock", "w2", 60)
    other.release("lock", "w2")  # not the holder: nothing happens
    assert not other.claim("lock", "w2", 60)
    values.release("lock", "w1")
    assert other.claim("lock", "w2", 1) and not values.claim("lock", "w1", 60)
    wait_for(lambda: values.claim("lock", "w1", 60), 5, "the lease expired and w1 took it")


def test_shared_values_in_the_database(db: Database) -> None:
    check_values(DbValues(db, "wechat"), DbValues(db, "wechat"))
    assert DbValues(db, "cms").get("article:u1:a2") is None  # per channel


def test_shared_values_in_memory_behave_the_same() -> None:
    shared = MemoryValues()
    check_values(shared, shared)


def test_concurrent_claims_have_one_winner(db: Database) -> None:
    winners: list[str] = []
    start = threading.Barrier(6)

    def contend(name: str) -> None:
        start.wait()
        if DbValues(db, "wechat").claim("digest-lock:2026-12-02", name, 60):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(winners) == 1
