"""Keyset paging and bounded totals for the lists (pages and API).

A list ordered by (a time column, id), newest first, continues from a cursor: the next page
is read from the index where the last one stopped, so page 1,000 costs what page 1 does.
A filtered total is counted up to COUNT_CAP and then reported as "more than".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
)
from sqlalchemy.orm import Session

from publisher.domain.numbers import ascii_digits
from publisher.store import counters
from publisher.store.models import Item

COUNT_CAP = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: int

    def encode(self) -> str:
        # integer microseconds: a float timestamp would lose the last digit and skip or
        # repeat a row at a page boundary
        return f"{(self.at - _EPOCH) // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        micros, _, ident = text.partition(".")
        if not (ascii_digits(micros) and ascii_digits(ident)) or len(micros) > 18 or len(ident) > 18:
            return None
        try:
            return cls(_EPOCH + timedelta(microseconds=int(micros)), int(ident))
        except OverflowError:  # a time past the year 9999: not a cursor we gave out
            return None


def bounded_count(s: Session, stmt: Select[Any]) -> tuple[int, bool]:
    """(rows matching `stmt` up to COUNT_CAP, whether there are more): counting stops at the
    cap, so a broad filter over a large archive costs what a page does."""
    n = s.execute(select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery())).scalar_one()
    return min(n, COUNT_CAP), n > COUNT_CAP


def kept_item_total(s: Session, item_type: str | None, state: str | None) -> int:
    """Items of a type and state (either may be None: any), from the maintained counts."""
    return sum(
        n for (t, st), n in counters.read(s).items.items() if item_type in (None, t) and state in (None, st)
    )


_SQLITE_SEARCH = table("items_search", column("rowid"))
TRIGRAM = 3  # the shortest text a trigram index can look up


def _fts_ids(q: str, columns: str = "title index_number ref") -> Select[Any]:
    phrase = "{" + columns + '} : "' + q.replace('"', '""') + '"'
    return (
        select(_SQLITE_SEARCH.c.rowid)
        .select_from(_SQLITE_SEARCH)
        .where(text("items_search MATCH :phrase").bindparams(bindparam("phrase", phrase)))
    )


def title_contains(q: str, *, postgres: bool) -> ColumnElement[bool]:
    """The title alone contains `q` (the audit search's item filter), from the same indexes as
    `contains`: a LIKE on PostgreSQL, the FTS table's title column on SQLite (three characters
    or more), instead of a LIKE that SQLite answers by reading every item."""
    if postgres or len(q) < TRIGRAM:
        return Item.title.contains(q, autoescape=True)
    return Item.id.in_(_fts_ids(q, columns="title"))


def indexed_search(q: str, *, postgres: bool) -> bool:
    """Whether `contains(q)` is answered from SQLite's FTS table (then the list should not be
    read along the time index: see `sort_key`)."""
    return not postgres and len(q) >= TRIGRAM


def sort_key(col: Any, *, indexed_search: bool) -> Any:
    """The column to order by. SQLite, given a LIMIT, walks the time index and tests every row
    against the search's id list rather than look the few ids up and sort them; `+col` takes
    the index out of its choice."""
    return literal_column(f"+{col.table.name}.{col.key}") if indexed_search else col


def matches(q: str, *, postgres: bool) -> ColumnElement[bool]:
    """The item list's search: title, 索引号 or ref contains `q`, or `q` is the uid or the
    release group. On SQLite one id list (a UNION), which it looks up by rowid; an OR of the
    three would send it scanning."""
    if not indexed_search(q, postgres=postgres):
        return or_(contains(q, postgres=postgres), Item.uid == q, Item.release_group == q)
    return Item.id.in_(
        union(
            _fts_ids(q),
            select(Item.id).where(Item.uid == q),
            select(Item.id).where(Item.release_group == q),
        )
    )


def contains(q: str, *, postgres: bool) -> ColumnElement[bool]:
    """Title, 索引号 or ref contains `q`. PostgreSQL: LIKEs that its trigram GIN indexes serve
    (migration 0011). SQLite: the FTS5 trigram table (migration 0016) for three characters or
    more; shorter text makes no trigram and is matched by scanning."""
    like = f"%{q}%"
    if postgres or len(q) < TRIGRAM:
        return or_(Item.title.like(like), Item.index_number.like(like), Item.ref.like(like))
    return Item.id.in_(_fts_ids(q))
