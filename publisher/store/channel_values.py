"""The SQL behind adapters' durable progress (publisher.delivery.checkpoints): per-delivery
checkpoints and per-channel shared values, one upsert each on both engines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from publisher.store.models import ChannelValue, Delivery, DeliveryCheckpoint


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def load_checkpoint(session: Session, key: str) -> dict[str, Any]:
    data = session.execute(
        select(DeliveryCheckpoint.data).where(DeliveryCheckpoint.delivery_key == key)
    ).scalar_one_or_none()
    return dict(data) if data else {}


def save_checkpoint(session: Session, key: str, data: Mapping[str, Any], now: datetime) -> None:
    stmt = _insert(session, DeliveryCheckpoint).values(delivery_key=key, data=dict(data), updated_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["delivery_key"], set_={"data": stmt.excluded.data, "updated_at": now}
        )
    )


def clear_checkpoint(session: Session, delivery_id: int) -> None:
    """A replay starts the delivery afresh: the adapter's old progress (say, the publication
    the provider failed) must not be resumed."""
    key = select(Delivery.key).where(Delivery.id == delivery_id).scalar_subquery()
    session.execute(delete(DeliveryCheckpoint).where(DeliveryCheckpoint.delivery_key == key))


def _live(now: datetime) -> Any:
    return or_(ChannelValue.expires_at.is_(None), ChannelValue.expires_at > now)


def get_value(session: Session, channel: str, name: str, now: datetime) -> Any | None:
    return session.execute(
        select(ChannelValue.value).where(
            ChannelValue.channel == channel, ChannelValue.name == name, _live(now)
        )
    ).scalar_one_or_none()


def values_with_prefix(session: Session, channel: str, prefix: str, now: datetime) -> dict[str, Any]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        select(ChannelValue.name, ChannelValue.value).where(
            ChannelValue.channel == channel, ChannelValue.name.like(escaped + "%", escape="\\"), _live(now)
        )
    ).all()
    return {name: value for name, value in rows}


def put_value(
    session: Session, channel: str, name: str, value: Any, now: datetime, ttl: float | None
) -> None:
    until = None if ttl is None else now + timedelta(seconds=ttl)
    stmt = _insert(session, ChannelValue).values(
        channel=channel, name=name, value=value, expires_at=until, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "name"],
            set_={"value": stmt.excluded.value, "expires_at": until, "updated_at": now},
        )
    )


def delete_value(session: Session, channel: str, name: str) -> None:
    session.execute(delete(ChannelValue).where(ChannelValue.channel == channel, ChannelValue.name == name))


def claim_value(session: Session, channel: str, name: str, owner: str, now: datetime, ttl: float) -> bool:
    """Take the lease unless another owner holds it unexpired: one conditional upsert (atomic
    on both engines), then read who holds it."""
    until = now + timedelta(seconds=ttl)
    stmt = _insert(session, ChannelValue).values(
        channel=channel, name=name, value=owner, expires_at=until, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "name"],
            set_={"value": stmt.excluded.value, "expires_at": until, "updated_at": now},
            where=ChannelValue.expires_at <= now,
        )
    )
    return bool(get_value(session, channel, name, now) == owner)


def release_value(session: Session, channel: str, name: str, owner: str, now: datetime) -> None:
    held = session.execute(
        select(ChannelValue.value)
        .where(ChannelValue.channel == channel, ChannelValue.name == name)
        .with_for_update()
    ).scalar_one_or_none()
    if held == owner:
        delete_value(session, channel, name)
