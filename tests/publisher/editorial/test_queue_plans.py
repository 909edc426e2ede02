"""The editor's work queues read the 50 they show along an index of the author's drafts, in the
page's order — not every draft of the store sorted (issue 21: on SQLite the staff home page
grew 1.89x from 10,000 to 100,000 items in bench/pages.py). The plans are SQLite's
EXPLAIN QUERY PLAN of the statements the queues really run, and PostgreSQL's EXPLAIN of the
same (at 1,000,000 items it read all 5,000 drafts to find the returned ones before migration
0027)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from publisher.editorial.queues import work_queues
from publisher.editorial.service import Service
from publisher.store.db import Database
from publisher.store.models import Item
from tests.conftest import Team
from tests.publisher.compliance.test_periodic_plans import plan, statements
from tests.rows import item_row

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_editor_queues_read_the_authors_drafts_in_order(
    db: Database, service: Service, team: Team
) -> None:
    # an archive of published items, drafts of two editors, a returned draft
    with db.transaction() as s:
        rows = [
            item_row(team.admin.id, T0 + timedelta(minutes=k), state="published", validity="有效")
            for k in range(60)
        ]
        rows += [item_row(team.editor.id, T0 + timedelta(hours=2, minutes=k)) for k in range(5)]
        # another author's many drafts: what a plan along (state, updated_at) would read through
        rows += [item_row(team.editor2.id, T0 + timedelta(hours=3, seconds=k)) for k in range(500)]
        rows.append(item_row(team.editor.id, T0 + timedelta(hours=4), reject_reason="请补充依据"))
        s.execute(insert(Item), rows)

    with statements(db, "FROM items") as seen:
        queues = {q.key: q for q in work_queues(service, team.editor)}
    assert [r.reason for r in queues["returned"].rows] == ["请补充依据"]
    drafts = queues["drafts"].rows
    assert len(drafts) == 5 and [r.updated_at for r in drafts] == sorted(
        (r.updated_at for r in drafts), reverse=True
    )

    assert len(seen) == 2, seen
    for (statement, params), index in zip(
        seen, ("ix_items_returned_mine", "ix_items_drafts_mine"), strict=True
    ):
        shown = plan(db, statement, params)
        if db.postgres:
            assert index in shown, shown
        else:
            # the author's drafts of that kind, in the page's order: no sort of the drafts
            assert f"USING INDEX {index} (created_by=?)" in shown and "TEMP B-TREE" not in shown, shown
