"""The outbox writer: one statement on PostgreSQL, several on SQLite, the same rows (and the
same audit chain) on both."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from publisher.domain.clock import utcnow
from publisher.editorial import audit
from publisher.editorial.service import Service
from publisher.store import outbox
from publisher.store.models import Delivery, Item, ItemVersion
from tests.conftest import Team
from tests.samples import policy


def _version(item_id: int, author: int, number: int, now: datetime) -> dict[str, Any]:
    return dict(
        item_id=item_id,
        number=number,
        content={"title": "标题"},
        content_hash="a" * 64,
        reason="publish",
        created_by=author,
        created_at=now,
    )


def test_version_deliveries_and_release_columns_are_written_together(service: Service, team: Team) -> None:
    # given an item with an earlier delivery, and a plan of three, one ordered after that one
    item = service.create_item(team.editor, policy())
    now = utcnow()
    due = now + timedelta(minutes=5)
    with service.db.transaction() as s:
        earlier = outbox.write(
            s,
            _version(item.id, team.editor.id, 1, now),
            "publish",
            [outbox.Planned("wechat", "k0.wechat")],
            due_at=now,
            now=now,
        ).deliveries
    planned = [
        outbox.Planned("rss", "k.rss"),
        outbox.Planned("cms", "k.cms", after=None),
        outbox.Planned("wechat", "k.wechat", after=earlier["wechat"]),
    ]
    statements: list[str] = []
    engine = service.db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with service.db.transaction() as s:
            version_id, ids, appended = outbox.write(
                s,
                _version(item.id, team.editor.id, 2, now),
                "update",
                planned,
                due_at=due,
                now=now,
                release=dict(
                    index_number="AB1900010-2026-007",
                    live_version=2,
                    state="published",
                    published_at=now,
                    updated_at=now,
                ),
                event=audit.event_params(
                    actor="approver",
                    action="approve",
                    item_uid=item.uid,
                    version_hash="a" * 64,
                    data={"version": 2},
                ),
            )
            assert appended is not None
            audit.seal(s, *appended)  # the caller's part: the keyed hash, when a key is configured
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # then PostgreSQL did it all in one statement
    if service.db.postgres:
        assert len(statements) == 1
    with service.db.reader() as s:
        version = s.get(ItemVersion, version_id)
        rows = (
            s.execute(select(Delivery).where(Delivery.version_id == version_id).order_by(Delivery.id))
            .scalars()
            .all()
        )
        stored = s.get(Item, item.id)
    assert version is not None and version.content == {"title": "标题"} and version.number == 2
    # and every delivery is queued, due when asked, keyed and ordered as planned
    assert ids == {d.channel: d.id for d in rows}
    assert [(d.channel, d.key, d.after_delivery_id, d.state, d.operation, d.version_id) for d in rows] == [
        ("rss", "k.rss", None, "queued", "update", version_id),
        ("cms", "k.cms", None, "queued", "update", version_id),
        ("wechat", "k.wechat", earlier["wechat"], "queued", "update", version_id),
    ]
    assert all(d.next_attempt_at == due and d.created_at == now for d in rows)
    # and the audit event was appended last, chained and hashed as verify expects
    last = service.audit_events()[-1]
    assert (last["action"], last["actor"], last["data"]) == ("approve", "approver", {"version": 2})
    assert appended == (last["seq"], last["hash"])
    assert service.verify_audit()[1] == []
    # and the item carries its release columns
    assert stored is not None
    assert (stored.index_number, stored.live_version, stored.state, stored.published_at) == (
        "AB1900010-2026-007",
        2,
        "published",
        now,
    )


def test_a_version_without_channels_writes_no_delivery(service: Service, team: Team) -> None:
    item = service.create_item(team.editor, policy())
    now = utcnow()
    with service.db.transaction() as s:
        version_id, ids, appended = outbox.write(
            s, _version(item.id, team.editor.id, 1, now), "publish", [], due_at=now, now=now
        )
    assert ids == {} and appended is None
    with service.db.reader() as s:
        assert s.get(ItemVersion, version_id) is not None
        assert s.execute(select(Delivery)).first() is None
        stored = s.get(Item, item.id)
        assert stored is not None and stored.state == "draft"  # no release given: the item is untouched
