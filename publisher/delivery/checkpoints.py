"""The database-backed Checkpoints and SharedValues (channels.base) the runtime gives every
adapter through its ChannelContext: an adapter's progress lives with the delivery in the
database, so a Redis flush or a restart loses nothing and no Redis is needed to resume.
Each call is one short transaction on a bare connection (publisher/store/channel_values.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from channels.base import TransientError
from publisher.domain.clock import utcnow
from publisher.store import channel_values as sql
from publisher.store.db import Database

T = TypeVar("T")


def _guarded(db: Database, fn: Callable[[Connection], T]) -> T:
    try:
        return db.run_core(fn)
    except SQLAlchemyError as exc:  # the database away: the adapter's attempt is retried later
        raise TransientError(f"数据库不可用 / database unavailable: {type(exc).__name__}") from exc


def _read(db: Database, fn: Callable[[Connection], T]) -> T:
    try:
        with db.core_reader() as conn:
            return fn(conn)
    except SQLAlchemyError as exc:
        raise TransientError(f"数据库不可用 / database unavailable: {type(exc).__name__}") from exc


class DbCheckpoints:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, key: str) -> dict[str, Any]:
        return _read(self.db, lambda c: sql.load_checkpoint(c, key))

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        _guarded(self.db, lambda c: sql.save_checkpoint(c, key, data, utcnow()))


class DbValues:
    def __init__(self, db: Database, channel: str) -> None:
        self.db, self.channel = db, channel

    def get(self, name: str) -> Any | None:
        return _read(self.db, lambda c: sql.get_value(c, self.channel, name, utcnow()))

    def put(self, name: str, value: Any, *, ttl: float | None = None) -> None:
        _guarded(self.db, lambda c: sql.put_value(c, self.channel, name, value, utcnow(), ttl))

    def delete(self, name: str) -> None:
        _guarded(self.db, lambda c: sql.delete_value(c, self.channel, name))

    def items(self, prefix: str) -> dict[str, Any]:
        return _read(self.db, lambda c: sql.values_with_prefix(c, self.channel, prefix, utcnow()))

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        return _guarded(self.db, lambda c: sql.claim_value(c, self.channel, name, owner, utcnow(), ttl))

    def release(self, name: str, owner: str) -> None:
        _guarded(self.db, lambda c: sql.release_value(c, self.channel, name, owner, utcnow()))
