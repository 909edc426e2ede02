"""The audit chain's append statement (`publisher.store.auditlog`): the same assertions on
SQLite and PostgreSQL — the next seq after the head, the previous hash linked, the hash the
database computes is sha256(previous hash + pre + seq + post), and the head follows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from publisher.store import auditlog
from publisher.store.db import Database
from publisher.store.models import AuditEvent, AuditHead

AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def _params(actor: str, pre: str, post: str, prefix: str = "") -> dict[str, Any]:
    event = dict(
        at=AT,
        actor=actor,
        action="approve",
        item_uid=None,
        version_hash=None,
        reason="理由",
        data={"version": 2, "名": "值"},
        pre=pre,
        post=post,
    )
    return {prefix + k: v for k, v in event.items()}


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _head(db: Database) -> tuple[int, str]:
    with db.reader() as s:
        seq, hash = s.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return seq, hash


def test_each_append_takes_the_next_seq_links_and_hashes_around_it(db: Database) -> None:
    # given the chain's head
    seq0, hash0 = _head(db)
    # when two events are appended in one transaction (the text around the seq is not ASCII)
    with db.transaction() as s:
        first = auditlog.append(s.connection(), _params("甲", '{"a":"审批","seq":', "}"))
        second = auditlog.append(s.connection(), _params("乙", '{"seq":', ',"v":null}'))
    # then each took the next seq and the database hashed previous hash + pre + seq + post
    assert first == (seq0 + 1, _sha(f'{hash0}{{"a":"审批","seq":{seq0 + 1}}}'))
    assert second == (seq0 + 2, _sha(f'{first[1]}{{"seq":{seq0 + 2},"v":null}}'))
    # and the rows carry the event's fields and the link to the one before
    with db.reader() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.seq > seq0).order_by(AuditEvent.seq)).scalars()
        got = [(e.seq, e.prev_hash, e.hash, e.actor, e.action, e.at, e.reason, e.data) for e in rows]
    assert got == [
        (seq0 + 1, hash0, first[1], "甲", "approve", AT, "理由", {"version": 2, "名": "值"}),
        (seq0 + 2, first[1], second[1], "乙", "approve", AT, "理由", {"version": 2, "名": "值"}),
    ]
    # and the head follows the last event
    assert _head(db) == second


def test_a_rolled_back_append_leaves_the_chain_as_it_was(db: Database) -> None:
    before = _head(db)
    with pytest.raises(RuntimeError), db.transaction() as s:
        auditlog.append(s.connection(), _params("甲", '{"seq":', "}"))
        raise RuntimeError("the transition failed after its event")
    assert _head(db) == before
    with db.transaction() as s:
        assert auditlog.append(s.connection(), _params("甲", '{"seq":', "}"))[0] == before[0] + 1


def test_the_prefixed_statement_binds_only_prefixed_parameters(db: Database) -> None:
    # (the outbox runs it as a CTE beside its own parameters, all named a_…)
    seq0, hash0 = _head(db)
    with db.transaction() as s:
        conn = s.connection()
        stmt = text(auditlog.append_sql(conn.dialect.name, "a_")).bindparams(*auditlog.typed_params("a_"))
        seq, hash = conn.execute(stmt, _params("甲", '{"seq":', "}", prefix="a_")).one()
    assert (seq, hash) == (seq0 + 1, _sha(f'{hash0}{{"seq":{seq0 + 1}}}'))
    assert _head(db) == (seq, hash)
