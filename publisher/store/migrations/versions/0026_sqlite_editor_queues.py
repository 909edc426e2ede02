"""SQLite: the editor's two work queues (我的草稿, 被退回) read along partial indexes of their
own drafts instead of sorting every draft

Revision ID: 0026
Revises: 0025

SQLite keeps no statistics unless ANALYZE runs, and without them it answered the staff home
page's "my drafts, newest first, 50" (and "my returned drafts") from ix_items_state and sorted
every draft of the store: the page grew 1.89x from 10,000 to 100,000 items in bench/pages.py,
whose archive keeps every 200th item a draft. A full (state, updated_at, id) index, as
PostgreSQL has (migration 0023), changed SQLite's statistics-free choice for the item list
filtered by type and state; these are partial, and only a statement whose WHERE implies their
filter — a draft, and its reason tested — can use them: the queues do, the item list (which
never tests the reason) does not. SQLite matches the bound state to the filter (it prepares
the statement again with the value). Each index holds the drafts of one kind, by author, in
the page's order: a queue reads the 50 it shows (the drafts of other authors are not read).
PostgreSQL reads ix_items_state_updated and needs neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# frozen copies of the filters in publisher.store.models.Item
INDEXES = {
    "ix_items_drafts_mine": "state = 'draft' AND reject_reason IS NULL",
    "ix_items_returned_mine": "state = 'draft' AND reject_reason IS NOT NULL",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, where in INDEXES.items():
        op.create_index(name, "items", ["created_by", "updated_at", "id"], sqlite_where=sa.text(where))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in INDEXES:
        op.drop_index(name, table_name="items")
