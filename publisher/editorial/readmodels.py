"""Read models for the pages: item search with the derived delivery status, release groups,
an item's timeline, the delivery matrix, the failed queue, the deliveries excluded at
approval and the audit log.

Reads only; every change goes through the service or the engine. Each query is bounded
(a page, a recent window) so pages stay fast with tens of thousands of deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from publisher.domain.clock import SHANGHAI
from publisher.domain.item import DeliveryState, ItemState
from publisher.editorial import paging
from publisher.editorial.paging import Cursor
from publisher.editorial.service import Service, delivery_json, item_json, overall_status
from publisher.store import counters
from publisher.store.models import Attempt, AuditEvent, Delivery, Item, ItemVersion, UTCDateTime

PAGE_SIZE = 50
OVERALL_FILTERS = ("draft", "pending", "published", "partially_published", "withdrawn")


@dataclass(frozen=True)
class ItemFilters:
    q: str | None = None
    type: str | None = None
    state: str | None = None
    validity: str | None = None
    overall: str | None = None
    date_field: str = "updated"  # updated | published
    date_from: date | None = None
    date_to: date | None = None


# what makes an item partially published (`service.overall_status`): a channel's latest
# delivery failed, held, or left out at approval (excluded)
STOPPED = (DeliveryState.FAILED, DeliveryState.HELD, DeliveryState.EXCLUDED)
# on the way: what makes it pending when no channel is stopped
UNDER_WAY = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.ACCEPTED, DeliveryState.RETRY_WAIT)
NOT_DELIVERED = UNDER_WAY + STOPPED


def _latest_in(states: tuple[DeliveryState, ...]) -> Any:
    """Items whose latest live delivery on some channel is in `states`. Starts from the few
    deliveries in those states (the state index), then checks that no newer non-superseded
    delivery on the same channel replaced it — the same rule as `latest_delivery_states`."""
    newer = aliased(Delivery)
    return select(Delivery.item_id).where(
        Delivery.state.in_([s.value for s in states]),
        ~exists().where(
            newer.item_id == Delivery.item_id,
            newer.channel == Delivery.channel,
            newer.state != DeliveryState.SUPERSEDED,
            newer.id > Delivery.id,
        ),
    )


def _has_latest_in(states: tuple[DeliveryState, ...]) -> ColumnElement[bool]:
    """The item (of the outer query) has a latest live delivery on some channel in `states`:
    `_latest_in` asked of one item, through its own deliveries (ix_deliveries_item_channel)."""
    mine, newer = aliased(Delivery), aliased(Delivery)
    return exists().where(
        mine.item_id == Item.id,
        mine.state.in_([s.value for s in states]),
        ~exists().where(
            newer.item_id == mine.item_id,
            newer.channel == mine.channel,
            newer.state != DeliveryState.SUPERSEDED,
            newer.id > mine.id,
        ),
    )


# Up to this many deliveries in the states a delivery-status filter looks for, the filter starts
# from them (the state index), whatever the archive holds; above it, from the items, newest
# first, asking each whether it matches (SQLite): see `_overall_clause`.
FROM_DELIVERIES_UP_TO = 500


def _overall_clause(overall: str, *, per_item: bool = False) -> ColumnElement[bool]:
    """The SQL form of `service.overall_status`, so the filter and the badge always agree.

    Two forms of the same condition. By default the items matching are found from the
    deliveries in the states looked for (an id list: its cost follows how many deliveries are in
    those states). With `per_item` each item is asked on its own (correlated EXISTS): reading
    the list newest first, a page costs the items read until it is full and the bounded count
    the items read until COUNT_CAP matches, whatever the backlog — which is what SQLite needs
    once the backlog is large, as it builds the whole list and sorts every matching item before
    taking a page (4.99x from 10,000 to 100,000 items with a 2 % failed backlog)."""
    if overall == "withdrawn":
        return Item.state == ItemState.WITHDRAWN
    live = Item.state != ItemState.WITHDRAWN
    has = exists().where(Delivery.item_id == Item.id, Delivery.state != DeliveryState.SUPERSEDED)
    released = Item.state.in_([ItemState.PUBLISHED, ItemState.APPROVED])

    def latest_in(states: tuple[DeliveryState, ...]) -> ColumnElement[bool]:
        return _has_latest_in(states) if per_item else Item.id.in_(_latest_in(states))

    if overall == "draft":
        return and_(live, ~has, ~released)
    if overall == "published":
        return and_(live, or_(and_(has, ~latest_in(NOT_DELIVERED)), and_(~has, released)))
    if overall == "partially_published":
        return and_(live, latest_in(STOPPED))
    return and_(live, latest_in(UNDER_WAY), ~latest_in(STOPPED))


def _looked_for(overall: str) -> tuple[DeliveryState, ...]:
    """The delivery states whose rows the id-list form of the filter starts from."""
    if overall == "partially_published":
        return STOPPED
    return NOT_DELIVERED  # published (its complement) and pending (both lists)


def _counted_from_deliveries(stmt: Select[Any], overall: str) -> Select[Any]:
    """What the bounded count of a per-item delivery-status filter reads (`_overall_clause`):
    the same items, found from the deliveries in the states looked for and joined to them. The
    DISTINCT is taken as the rows come, so the count stops at COUNT_CAP items instead of
    asking item after item (slow where matches are sparse). `published` has no such list (its
    matches are most items: asked per item, COUNT_CAP of them come first)."""
    if overall not in ("partially_published", "pending"):
        return stmt.where(_overall_clause(overall, per_item=True))
    newer = aliased(Delivery)
    looked = STOPPED if overall == "partially_published" else UNDER_WAY
    found = (
        select(Item.id)
        .distinct()
        .select_from(Item)
        .join(Delivery, Delivery.item_id == Item.id)
        .where(
            Item.state != ItemState.WITHDRAWN,
            Delivery.state.in_([st.value for st in looked]),
            ~exists().where(
                newer.item_id == Delivery.item_id,
                newer.channel == Delivery.channel,
                newer.state != DeliveryState.SUPERSEDED,
                newer.id > Delivery.id,
            ),
        )
    )
    if stmt.whereclause is not None:
        found = found.where(stmt.whereclause)
    return found.where(~_has_latest_in(STOPPED)) if overall == "pending" else found


def _per_item(s: Session, overall: str, *, postgres: bool) -> bool:
    """Whether the delivery-status filter asks item by item (see `_overall_clause`): on SQLite,
    when the maintained counts show more than FROM_DELIVERIES_UP_TO deliveries in the states
    looked for. A small backlog is cheapest from its list whatever the archive (a per-item walk
    would read far for few matches); PostgreSQL plans both forms as the same semi-join."""
    if postgres or overall in ("withdrawn", "draft"):
        return False
    states = {st.value for st in _looked_for(overall)}
    backlog = sum(
        n
        for (_channel, state), n in counters.read(s, counters.DELIVERY).deliveries.items()
        if state in states
    )
    return backlog > FROM_DELIVERIES_UP_TO


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


@dataclass
class ItemPage:
    total: int
    capped: bool  # the total is paging.COUNT_CAP and there are more
    rows: list[dict[str, Any]]
    next: str | None  # cursor of the following (older) page
    prev: str | None  # cursor of the preceding (newer) page


def _simple_total(s: Session, f: ItemFilters) -> int | None:
    """The exact count from the maintained counts, when only type and state filter."""
    if f.q or f.validity or f.overall or f.date_from or f.date_to or f.date_field == "published":
        return None
    return paging.kept_item_total(s, f.type, f.state)


def search_items(
    service: Service,
    f: ItemFilters,
    page: int = 1,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> ItemPage:
    """One page of the item list, newest first. `after`/`before` continue from a cursor
    (keyset: the index is entered where the last page stopped); without either, `page`
    is read by OFFSET, which only links from older pages use. The total is exact from the
    maintained counts when only type and state filter, else counted up to paging.COUNT_CAP."""
    with service.db.reader() as s:
        stmt = select(Item)
        if f.type:
            stmt = stmt.where(Item.type == f.type)
        if f.state:
            stmt = stmt.where(Item.state == f.state)
        if f.validity:
            stmt = stmt.where(Item.validity == f.validity)
        if f.q:
            # served by trigram indexes: pg_trgm on PostgreSQL, FTS5 on SQLite
            stmt = stmt.where(paging.matches(f.q, postgres=service.db.postgres))
        if f.date_field == "published":
            # listed by publication date: what was never published has none to list by
            column = Item.published_at
            stmt = stmt.where(Item.published_at.is_not(None))
        else:
            column = Item.updated_at
        if f.date_from:
            stmt = stmt.where(column >= _day_bounds(f.date_from)[0])
        if f.date_to:
            stmt = stmt.where(column < _day_bounds(f.date_to)[1])
        counted: Select[Any] = stmt
        if f.overall in OVERALL_FILTERS:
            per_item = _per_item(s, f.overall, postgres=service.db.postgres)
            filtered = stmt.where(_overall_clause(f.overall, per_item=per_item))
            counted = _counted_from_deliveries(stmt, f.overall) if per_item else filtered
            stmt = filtered
        total = _simple_total(s, f)
        capped = False
        if total is None:
            total, capped = paging.bounded_count(s, counted)
        key = tuple_(column, Item.id)
        order = paging.sort_key(
            column,
            indexed_search=bool(f.q) and paging.indexed_search(f.q or "", postgres=service.db.postgres),
        )
        if before is not None:
            found = list(
                s.execute(
                    stmt.where(key > tuple_(literal(before.at, UTCDateTime()), literal(before.id)))
                    .order_by(order.asc(), Item.id.asc())
                    .limit(PAGE_SIZE + 1)
                )
                .scalars()
                .all()
            )
            newer = len(found) > PAGE_SIZE
            items = list(reversed(found[:PAGE_SIZE]))
            older = True
        else:
            query = stmt.order_by(order.desc(), Item.id.desc()).limit(PAGE_SIZE + 1)
            if after is not None:
                query = query.where(key < tuple_(literal(after.at, UTCDateTime()), literal(after.id)))
            else:
                query = query.offset((page - 1) * PAGE_SIZE)
            found = list(s.execute(query).scalars().all())
            older = len(found) > PAGE_SIZE
            items = found[:PAGE_SIZE]
            newer = after is not None or page > 1
        latest = service.latest_delivery_states(s, [i.id for i in items])
        rows = [item_json(i, overall_status(i.state, latest[i.id]), latest[i.id], full=False) for i in items]

    def cursor(i: Item) -> str:
        at = i.published_at if f.date_field == "published" else i.updated_at
        assert at is not None  # published_at: the list holds only items that have one
        return Cursor(at, i.id).encode()

    return ItemPage(
        total=total,
        capped=capped,
        rows=rows,
        next=cursor(items[-1]) if items and older else None,
        prev=cursor(items[0]) if items and newer else None,
    )


def group_members(service: Service, group: str | None) -> list[dict[str, Any]]:
    if not group:
        return []
    with service.db.reader() as s:
        items = s.execute(select(Item).where(Item.release_group == group).order_by(Item.id)).scalars().all()
        latest = service.latest_delivery_states(s, [i.id for i in items])
        return [item_json(i, overall_status(i.state, latest[i.id]), latest[i.id], full=False) for i in items]


def author_of(service: Service, uid: str) -> int | None:
    with service.db.reader() as s:
        return s.execute(select(Item.created_by).where(Item.uid == uid)).scalar_one_or_none()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # audit | attempt
    title: str
    actor: str
    detail: dict[str, Any]


def timeline(service: Service, uid: str) -> tuple[list[dict[str, Any]], list[TimelineEntry]]:
    """The item's deliveries (with receipts) and every audit event and attempt, oldest first."""
    with service.db.reader() as s:
        item = s.execute(select(Item).where(Item.uid == uid)).scalar_one()
        versions = dict(
            s.execute(select(ItemVersion.id, ItemVersion.number).where(ItemVersion.item_id == item.id))
            .tuples()
            .all()
        )
        rows = (
            s.execute(select(Delivery).where(Delivery.item_id == item.id).order_by(Delivery.id))
            .scalars()
            .all()
        )
        deliveries = []
        by_id: dict[int, dict[str, Any]] = {}
        for d in rows:
            data = {**delivery_json(d, versions.get(d.version_id)), "receipt": d.receipt}
            deliveries.append(data)
            by_id[d.id] = data
        entries = [
            TimelineEntry(
                e.at,
                "audit",
                e.action,
                e.actor,
                {"reason": e.reason, "data": e.data, "version_hash": e.version_hash, "seq": e.seq},
            )
            for e in s.execute(
                select(AuditEvent).where(AuditEvent.item_uid == uid).order_by(AuditEvent.seq)
            ).scalars()
        ]
        if by_id:
            for a in s.execute(
                select(Attempt).where(Attempt.delivery_id.in_(list(by_id))).order_by(Attempt.id)
            ).scalars():
                owner = by_id[a.delivery_id]
                entries.append(
                    TimelineEntry(
                        a.started_at,
                        "attempt",
                        f"{owner['channel']} · {owner['operation']} v{owner['version']} · #{a.number}",
                        a.worker or "",
                        {
                            "channel": owner["channel"],
                            "operation": owner["operation"],
                            "version": owner["version"],
                            "number": a.number,
                            "outcome": a.outcome,
                            "http_status": a.http_status,
                            "provider_code": a.provider_code,
                            "error": a.error,
                            "response_excerpt": a.response_excerpt,
                            "duration_ms": round(a.duration_ms, 1),
                            "delivery": a.delivery_id,
                        },
                    )
                )
    entries.sort(key=lambda e: e.at)
    return deliveries, entries


def matrix(
    service: Service, limit: int = 30, counts: counters.Counts | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Recently changed items with the latest delivery state per channel (`counts`: the
    page's snapshot of the maintained counts, taken once for all its panels)."""
    with service.db.reader() as s:
        items = (
            s.execute(
                select(Item)
                .where(Item.live_version.is_not(None))
                .order_by(Item.updated_at.desc(), Item.id.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        latest = service.latest_delivery_states(s, [i.id for i in items])
        rows = [item_json(i, overall_status(i.state, latest[i.id]), latest[i.id], full=False) for i in items]
    channels = sorted(set(service.channel_names(counts)) | {c for r in rows for c in r["channels"]})
    return channels, rows


def failed_deliveries(service: Service, channel: str | None, page: int) -> tuple[int, list[dict[str, Any]]]:
    with service.db.reader() as s:
        stmt = (
            select(Delivery, Item.uid, Item.title)
            .join(Item, Item.id == Delivery.item_id)
            .where(Delivery.state == DeliveryState.FAILED)
        )
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        # the maintained counts, not a COUNT(*) over the failed rows
        total = sum(
            n
            for (name, state), n in counters.read(s).deliveries.items()
            if state == DeliveryState.FAILED and channel in (None, name)
        )
        rows = s.execute(
            stmt.order_by(Delivery.updated_at.desc(), Delivery.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        return total, [
            {**delivery_json(d, None), "item": uid, "title": title, "updated_at": d.updated_at}
            for d, uid, title in rows
        ]


def excluded_deliveries(
    service: Service, limit: int = 50, counts: counters.Counts | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """Deliveries the approver left out at approval (`excluded`), newest first: they wait for
    someone to release them, so the dashboard lists them with their reason."""
    with service.db.reader() as s:
        # the maintained counts, not a COUNT(*) over the ledger; the channels holding any
        # let the (channel, state) index find the rows
        held = {
            name: n
            for (name, state), n in (counts or counters.read(s, counters.DELIVERY)).deliveries.items()
            if state == DeliveryState.EXCLUDED and n > 0
        }
        if not held:
            return 0, []
        rows = s.execute(
            select(Delivery, Item.uid, Item.title)
            .join(Item, Item.id == Delivery.item_id)
            .where(Delivery.channel.in_(sorted(held)), Delivery.state == DeliveryState.EXCLUDED)
            .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
            .limit(limit)
        ).all()
        return sum(held.values()), [
            {**delivery_json(d, None), "item": uid, "title": title, "updated_at": d.updated_at}
            for d, uid, title in rows
        ]


def audit_page(
    service: Service, item: str | None, before: int | None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; `before` is the seq to continue below (keyset paging, no OFFSET scans)."""
    with service.db.reader() as s:
        stmt = select(AuditEvent)
        if item:
            stmt = stmt.where(AuditEvent.item_uid == item)
        if before:
            stmt = stmt.where(AuditEvent.seq < before)
        rows = s.execute(stmt.order_by(AuditEvent.seq.desc()).limit(limit)).scalars().all()
        return [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "item": e.item_uid,
                "reason": e.reason,
                "data": e.data,
                "hash": e.hash,
            }
            for e in rows
        ]
