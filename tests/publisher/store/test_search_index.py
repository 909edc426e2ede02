"""The item search's substring match is served by an index on PostgreSQL: pg_trgm keeps
trigrams of CJK text under the database's locale, and the planner answers a search for a
Chinese fragment from the trigram GIN indexes (EXPLAIN), with the same rows as a scan."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete, event, insert, select, text, update

from publisher.editorial.paging import contains
from publisher.editorial.readmodels import ItemFilters, search_items
from publisher.runtime import Runtime
from publisher.store.db import Database
from publisher.store.models import Item
from tests.rows import admin_user, item_row

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _seed(db: Database, n: int) -> None:
    user = admin_user(db, "search", NOW)
    with db.transaction() as s:
        s.execute(
            insert(Item),
            [
                item_row(
                    user,
                    NOW,
                    uid=f"01search{i:018d}",
                    state="published",
                    title=f"关于第{i}号政府信息公开事项的通知",
                    index_number=f"AB1900010-2026-{i:05d}",
                )
                for i in range(n)
            ],
        )


def test_trigram_index_serves_a_chinese_substring_search(db: Database) -> None:
    _seed(db, 300)
    if not db.postgres:
        # SQLite: the FTS5 trigram table (migration 0016) answers, not a scan of items
        stmt = select(Item.id).where(contains("第123号政府", postgres=False))
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.reader() as s:
            plan = " / ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "SCAN items_search VIRTUAL TABLE" in plan and not re.search(r"SCAN items\b(?!_)", plan), plan
        return
    with db.reader() as s:
        collate = s.execute(
            text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        ).scalar()
        # CJK characters make trigrams under this locale (under a locale that classed them as
        # non-alphanumeric there would be none, and the index would be useless)
        grams = s.execute(text("SELECT show_trgm('政府信息公开')")).scalar_one()
        assert len(grams) >= 4, (collate, grams)
        s.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: make the planner show its index
        plan = "\n".join(
            s.execute(
                text(
                    "EXPLAIN SELECT id FROM items WHERE title LIKE :q OR index_number LIKE :q OR ref LIKE :q"
                ),
                {"q": "%第123号政府%"},
            ).scalars()
        )
    assert "ix_items_title_trgm" in plan and "Bitmap Index Scan" in plan, plan
    assert "ix_items_index_number_trgm" in plan, plan


def test_search_finds_a_fragment_from_the_middle_of_a_title(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(executor=False)
    _seed(runtime.db, 200)
    page = search_items(runtime.service, ItemFilters(q="第123号政府"), 1)
    assert [r["uid"] for r in page.rows] == ["01search000000000000000123"]
    assert page.total == 1 and not page.capped
    page = search_items(runtime.service, ItemFilters(q="2026-0012"), 1)  # 索取号 fragment
    assert sorted(r["uid"] for r in page.rows) == [f"01search{i:018d}" for i in range(120, 130)]
    with runtime.db.reader() as s:
        assert s.execute(select(Item.id).where(Item.title.like("%公开事项%"))).all()


def test_the_search_index_follows_changes_and_short_text_still_matches(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(executor=False)
    _seed(runtime.db, 20)
    uid = "01search000000000000000007"
    with runtime.db.transaction() as s:
        s.execute(update(Item).where(Item.uid == uid).values(title="关于调整道路停车收费标准的通知"))
        s.execute(delete(Item).where(Item.uid == "01search000000000000000008"))

    def found(q: str) -> list[str]:
        return sorted(r["uid"] for r in search_items(runtime.service, ItemFilters(q=q), 1).rows)

    assert found("停车收费") == [uid]
    assert found("第7号政府") == []  # the old title is gone from the index
    assert found("第8号政府") == []  # and so is the deleted item
    assert found("停车") == [uid]  # two characters make no trigram: matched by scanning
    assert found("第1") == [f"01search{i:018d}" for i in (1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)]


def test_sqlite_lists_a_type_in_order_from_its_index_not_a_sort(make_runtime: Callable[..., Runtime]) -> None:
    # SQLite has no statistics: without (type, time, id) it sorted every item of the type
    # (migration 0020); the plan of the list's own query must read the page in index order
    runtime = make_runtime()
    if runtime.db.postgres:
        return
    _seed(runtime.db, 50)
    seen: list[tuple[str, object]] = []

    def keep(_conn: object, _cur: object, statement: str, params: object, _ctx: object, _many: bool) -> None:
        # the list's page query only: the runtime's own periodic jobs query items too, from
        # another thread, at any moment
        if (
            statement.lstrip().startswith("SELECT items.id")
            and "items.type = " in statement
            and "ORDER BY" in statement
        ):
            seen.append((statement, params))

    engines = {id(e): e for e in (runtime.db.engine, runtime.db.read_engine) if e is not None}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", keep)
    for date_field in ("updated", "published"):
        seen.clear()
        search_items(
            runtime.service,
            ItemFilters(type="policy", state="published", date_field=date_field),
        )
        statement, params = seen[-1]
        with runtime.db.reader() as s:
            raw = s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)  # type: ignore[arg-type]
            plan = " / ".join(str(r[-1]) for r in raw)
        assert f"INDEX ix_items_type_{date_field}" in plan and "TEMP B-TREE" not in plan, (
            plan,
            statement,
            params,
        )
