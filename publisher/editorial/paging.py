"""Keyset paging and bounded totals for the lists (pages and API).

A list ordered by (a time column, id), newest first, continues from a cursor: the next page
is read from the index where the last one stopped, so page 1,000 costs what page 1 does.
A filtered total is counted up to COUNT_CAP and then reported as "more than".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from publisher.store import counters

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
        if not (micros.isdigit() and ident.isdigit()) or len(micros) > 18 or len(ident) > 18:
            return None
        return cls(_EPOCH + timedelta(microseconds=int(micros)), int(ident))


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
