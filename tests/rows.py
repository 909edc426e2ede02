"""Rows written straight into the store, below the services, for tests of what the store itself
keeps (triggers, folds, a migration's backfill, indexes) that need many rows or rows in any
state. Everything else goes through the services (`tests/support.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from publisher.store.db import Database
from publisher.store.models import ItemVersion, User


def admin_user(db: Database, name: str, at: datetime) -> int:
    """The id of the admin user `name`, created at `at` when missing."""
    with db.transaction() as s:
        found = s.execute(select(User.id).where(User.name == name)).scalar_one_or_none()
        if found is not None:
            return found
        return s.execute(
            insert(User)
            .values(name=name, role="admin", token_hash=uuid.uuid4().hex, active=True, created_at=at)
            .returning(User.id)
        ).scalar_one()


def item_row(user: int, at: datetime, **values: Any) -> dict[str, Any]:
    """The values of an `items` row: a valid policy draft by `user` at `at`, with `values` over
    it (a new 26-character uid unless given)."""
    row: dict[str, Any] = dict(
        uid=uuid.uuid4().hex[:26],
        type="policy",
        state="draft",
        title="测试",
        content={},
        validity="有效",
        created_by=user,
        created_at=at,
        updated_at=at,
    )
    return {**row, **values}


def published_version(s: Session, item: int, user: int, at: datetime, number: int = 1) -> int:
    """A published version of `item` (the first unless `number` says; empty content); its id."""
    return s.execute(
        insert(ItemVersion)
        .values(
            item_id=item,
            number=number,
            content={},
            content_hash="0" * 64,
            reason="publish",
            created_by=user,
            created_at=at,
        )
        .returning(ItemVersion.id)
    ).scalar_one()


def delivery_row(
    item: int, version: int, channel: str, state: str, at: datetime, **values: Any
) -> dict[str, Any]:
    """The values of a `deliveries` row of `version` on `channel`, in `state`, made at `at` (a
    publish unless `values` say otherwise)."""
    row: dict[str, Any] = dict(
        item_id=item,
        version_id=version,
        channel=channel,
        operation="publish",
        state=state,
        key=uuid.uuid4().hex,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    return {**row, **values}
