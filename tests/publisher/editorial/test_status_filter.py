"""The item list's delivery-status filter (?overall=) lists exactly the items whose badge
(`overall_status`) says so, in both of its SQL forms: found from the deliveries in the states
looked for (a small backlog), and asked item by item with the count found from the deliveries
(SQLite with a large backlog, so the cost follows the page and not the backlog). A random
ledger: several deliveries per channel, superseded ones, every state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from publisher.domain.item import DeliveryState
from publisher.editorial import paging, readmodels
from publisher.editorial.readmodels import OVERALL_FILTERS, ItemFilters, search_items
from publisher.editorial.service import Service, overall_status
from publisher.store.models import Delivery, Item
from tests.rows import admin_user, delivery_row, item_row, published_version

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CHANNELS = ("rss", "cms", "wechat")
STATES = [s for s in DeliveryState]
ITEM_STATES = ("draft", "in_review", "approved", "published", "published", "published", "withdrawn")


def _ledger(service: Service, n: int, seed: int) -> None:
    rng = random.Random(seed)
    user = admin_user(service.db, "status", NOW)
    with service.db.transaction() as s:
        for i in range(n):
            state = rng.choice(ITEM_STATES)
            at = NOW - timedelta(minutes=i)
            values = item_row(user, at, uid=f"01status{i:018d}", state=state, title=f"第{i}号")
            item_id = s.execute(insert(Item).values(**values).returning(Item.id)).scalar_one()
            if state in ("draft", "in_review") and rng.random() < 0.7:
                continue
            for number in range(1, rng.randint(1, 3) + 1):
                version = published_version(s, item_id, user, at, number)
                for channel in rng.sample(CHANNELS, rng.randint(0, len(CHANNELS))):
                    # mostly delivered, as a ledger is; the rest spread over every state
                    st = DeliveryState.DELIVERED if rng.random() < 0.5 else rng.choice(STATES)
                    key = f"{item_id}.{number}.{channel}"
                    s.execute(
                        insert(Delivery).values(**delivery_row(item_id, version, channel, st, at, key=key))
                    )


def _listed(service: Service, overall: str) -> tuple[list[str], int]:
    """Every uid the filter lists, following the pages' cursors, and the first page's total."""
    first = search_items(service, ItemFilters(overall=overall))
    uids = [r["uid"] for r in first.rows]
    page = first
    while page.next:
        page = search_items(service, ItemFilters(overall=overall), after=paging.Cursor.decode(page.next))
        uids += [r["uid"] for r in page.rows]
    return uids, first.total


@pytest.mark.parametrize("seed", [1, 2])
def test_both_forms_list_what_the_badge_says(
    service: Service, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    _ledger(service, 160, seed)
    monkeypatch.setattr(readmodels, "PAGE_SIZE", 7)  # several pages
    monkeypatch.setattr(paging, "COUNT_CAP", 25)  # and a capped count
    with service.db.reader() as s:
        items = {i.id: i for i in s.query(Item).all()}
        latest = service.latest_delivery_states(s, list(items))
    newest_first = sorted(items.values(), key=lambda i: (i.updated_at, i.id), reverse=True)
    for overall in OVERALL_FILTERS:
        expected = [i.uid for i in newest_first if overall_status(i.state, latest[i.id]) == overall]
        for per_item in (False, True):
            monkeypatch.setattr(readmodels, "_per_item", lambda s, o, *, postgres, p=per_item: p)
            uids, total = _listed(service, overall)
            assert uids == expected, (overall, per_item)
            assert total == min(len(expected), 25), (overall, per_item)


def test_sqlite_asks_per_item_only_past_a_backlog(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    _ledger(service, 40, 3)
    postgres = service.db.postgres
    with service.db.reader() as s:
        assert not readmodels._per_item(s, "partially_published", postgres=postgres)
        monkeypatch.setattr(readmodels, "FROM_DELIVERIES_UP_TO", 0)
        assert readmodels._per_item(s, "partially_published", postgres=postgres) is not postgres
        assert not readmodels._per_item(s, "draft", postgres=postgres)
