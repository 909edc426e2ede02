"""The live copies post-publication inspection re-reads (`live_copies`), kept by the ledger.

When a delivery becomes delivered, `enroll` makes it its item's copy on that channel (a
publish or update replaces an older version's row; a withdrawal removes the row, since
there is no copy left to inspect). A new row is due at once and never inspected: the
inspection clock gives it its first date (publisher/delivery/inspection.py), so the ledger
needs no inspection settings. One statement per kind of change, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from publisher.domain.item import Operation
from publisher.store.models import Delivery, Drift, LiveCopy

# drifts.resolution of a drift whose copy a newer delivery replaced or a withdrawal removed
# (publisher/delivery/drift.Resolution.SUPERSEDED; the store names the value, not the enum)
SUPERSEDED = "superseded"


def enroll(session: Session, delivery_ids: Sequence[int], now: datetime) -> None:
    """The deliveries `delivery_ids`, just delivered, become (or stop being) live copies."""
    if not delivery_ids:
        return
    rows = session.execute(
        select(Delivery.id, Delivery.item_id, Delivery.channel, Delivery.operation).where(
            Delivery.id.in_(list(delivery_ids))
        )
    ).all()
    gone = [(r.item_id, r.channel) for r in rows if r.operation == Operation.WITHDRAW]
    # what an inspection found wrong with the copy these deliveries replace is no longer
    # anyone's to fix: the older delivery's open drifts close with it
    newest = {(r.item_id, r.channel): r.id for r in sorted(rows, key=lambda r: r.id)}
    session.execute(
        update(Drift)
        .where(
            Drift.resolved_at.is_(None),
            or_(
                *(
                    and_(Drift.item_id == i, Drift.channel == c, Drift.delivery_id < d)
                    for (i, c), d in newest.items()
                )
            ),
        )
        .values(resolved_at=now, resolution=SUPERSEDED, resolved_by="system")
        .execution_options(synchronize_session=False)
    )
    if gone:
        session.execute(
            delete(LiveCopy).where(
                or_(*(and_(LiveCopy.item_id == i, LiveCopy.channel == c) for i, c in gone))
            )
        )
    live = {
        (r.item_id, r.channel): r.id
        for r in sorted(rows, key=lambda r: r.id)
        if r.operation != Operation.WITHDRAW
    }
    if not live:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(LiveCopy).values(
        [
            dict(
                item_id=item_id,
                channel=channel,
                delivery_id=delivery_id,
                delivered_at=now,
                next_inspect_at=now,
                last_inspected_at=None,
                last_outcome=None,
                inspections=0,
            )
            for (item_id, channel), delivery_id in sorted(live.items())
        ]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["item_id", "channel"],
            set_=dict(
                delivery_id=stmt.excluded.delivery_id,
                delivered_at=stmt.excluded.delivered_at,
                next_inspect_at=stmt.excluded.next_inspect_at,
                last_inspected_at=None,
                last_outcome=None,
                inspections=0,
            ),
            # an older version delivered late never replaces the newer copy
            where=LiveCopy.delivery_id <= stmt.excluded.delivery_id,
        )
    )
