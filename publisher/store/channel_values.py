"""The SQL behind adapters' durable progress (publisher.delivery.checkpoints): per-delivery
checkpoints and per-channel shared values, one upsert each on both engines.

A WeChat article takes a dozen of these (its checkpoint after remote steps, the image cache,
the publish index), so they are statements built once and run on a bare connection: an ORM
statement built per call and a Session per call cost about three times the CPU
(bench/wechat.py, docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Insert

from publisher.store.models import ChannelValue, Delivery, DeliveryCheckpoint

_VALUES = ChannelValue.__table__
_CHECKPOINTS = DeliveryCheckpoint.__table__
_LIVE = or_(_VALUES.c.expires_at.is_(None), _VALUES.c.expires_at > bindparam("now"))
_HERE = (_VALUES.c.channel == bindparam("channel"), _VALUES.c.name == bindparam("name"))

_LOAD = select(_CHECKPOINTS.c.data).where(_CHECKPOINTS.c.delivery_key == bindparam("key"))
_GET = select(_VALUES.c.value).where(*_HERE, _LIVE)
_WITH_PREFIX = select(_VALUES.c.name, _VALUES.c.value).where(
    _VALUES.c.channel == bindparam("channel"), _VALUES.c.name.like(bindparam("pattern"), escape="\\"), _LIVE
)
_HOLDER = select(_VALUES.c.value).where(*_HERE).with_for_update()
_DELETE = delete(ChannelValue).where(*_HERE)


@cache
def _upserts(dialect: str) -> tuple[Insert, Insert, Insert]:
    """(save a checkpoint, put a value, claim a lease) on `dialect`; their parameters are
    the columns."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    checkpoint = insert(DeliveryCheckpoint)
    save = checkpoint.on_conflict_do_update(
        index_elements=["delivery_key"],
        set_={"data": checkpoint.excluded.data, "updated_at": checkpoint.excluded.updated_at},
    )
    value = insert(ChannelValue)
    fresh = {
        "value": value.excluded.value,
        "expires_at": value.excluded.expires_at,
        "updated_at": value.excluded.updated_at,
    }
    put = value.on_conflict_do_update(index_elements=["channel", "name"], set_=fresh)
    # a lease is taken over only once its holder's has run out (updated_at is now)
    claim = value.on_conflict_do_update(
        index_elements=["channel", "name"],
        set_=fresh,
        where=_VALUES.c.expires_at <= value.excluded.updated_at,
    )
    return save, put, claim


def load_checkpoint(conn: Connection, key: str) -> dict[str, Any]:
    data = conn.execute(_LOAD, {"key": key}).scalar_one_or_none()
    return dict(data) if data else {}


def save_checkpoint(conn: Connection, key: str, data: Mapping[str, Any], now: datetime) -> None:
    save = _upserts(conn.dialect.name)[0]
    conn.execute(save, {"delivery_key": key, "data": dict(data), "updated_at": now})


def clear_checkpoint(session: Session, delivery_id: int) -> None:
    """A replay starts the delivery afresh: the adapter's old progress (say, the publication
    the provider failed) must not be resumed."""
    key = select(Delivery.key).where(Delivery.id == delivery_id).scalar_subquery()
    session.execute(delete(DeliveryCheckpoint).where(DeliveryCheckpoint.delivery_key == key))


def get_value(conn: Connection, channel: str, name: str, now: datetime) -> Any | None:
    return conn.execute(_GET, {"channel": channel, "name": name, "now": now}).scalar_one_or_none()


def values_with_prefix(conn: Connection, channel: str, prefix: str, now: datetime) -> dict[str, Any]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(_WITH_PREFIX, {"channel": channel, "pattern": escaped + "%", "now": now}).all()
    return {name: value for name, value in rows}


def put_value(
    conn: Connection, channel: str, name: str, value: Any, now: datetime, ttl: float | None
) -> None:
    until = None if ttl is None else now + timedelta(seconds=ttl)
    put = _upserts(conn.dialect.name)[1]
    conn.execute(
        put, {"channel": channel, "name": name, "value": value, "expires_at": until, "updated_at": now}
    )


def delete_value(conn: Connection, channel: str, name: str) -> None:
    conn.execute(_DELETE, {"channel": channel, "name": name})


def claim_value(conn: Connection, channel: str, name: str, owner: str, now: datetime, ttl: float) -> bool:
    """Take the lease unless another owner holds it unexpired: one conditional upsert (atomic
    on both engines), then read who holds it."""
    claim = _upserts(conn.dialect.name)[2]
    conn.execute(
        claim,
        {
            "channel": channel,
            "name": name,
            "value": owner,
            "expires_at": now + timedelta(seconds=ttl),
            "updated_at": now,
        },
    )
    return bool(get_value(conn, channel, name, now) == owner)


def release_value(conn: Connection, channel: str, name: str, owner: str, now: datetime) -> None:
    held = conn.execute(_HOLDER, {"channel": channel, "name": name}).scalar_one_or_none()
    if held == owner:
        delete_value(conn, channel, name)
