"""SQLite: a trigram full-text index (FTS5) for the item search's substring match

Revision ID: 0016
Revises: 0015

PostgreSQL has its pg_trgm GIN indexes (0011). SQLite's counterpart is an FTS5 table with the
trigram tokenizer (SQLite 3.34+) over title, 索引号 and ref, kept in step with `items` by
triggers (an external-content table: the text is not stored twice). A search of three or more
characters is answered from it; a shorter one (two CJK characters make no trigram) scans.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = "title, index_number, ref"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE VIRTUAL TABLE items_search USING fts5({COLUMNS}, content='items', content_rowid='id', "
        "tokenize='trigram')"
    )
    new = "new.id, new.title, new.index_number, new.ref"
    old = "'delete', old.id, old.title, old.index_number, old.ref"
    op.execute(
        "CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN "
        f"INSERT INTO items_search (rowid, {COLUMNS}) VALUES ({new}); END"
    )
    op.execute(
        "CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN "
        f"INSERT INTO items_search (items_search, rowid, {COLUMNS}) VALUES ({old}); END"
    )
    op.execute(
        "CREATE TRIGGER items_search_update AFTER UPDATE OF title, index_number, ref ON items BEGIN "
        f"INSERT INTO items_search (items_search, rowid, {COLUMNS}) VALUES ({old}); "
        f"INSERT INTO items_search (rowid, {COLUMNS}) VALUES ({new}); END"
    )
    op.execute("INSERT INTO items_search (items_search) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("items_search_insert", "items_search_delete", "items_search_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS items_search")
