"""The 索取号 counters (`publisher.store.indexcounter`), with the same assertions on SQLite and
PostgreSQL: one serial after another per agency and year, never one already handed out or
imported, and a rolled-back approval's serial handed out again."""

from __future__ import annotations

import pytest

from publisher.store import indexcounter
from publisher.store.db import Database


def _next(db: Database, agency: str = "AB1900010", year: int = 2026) -> int:
    with db.transaction() as s:
        return indexcounter.next_serial(s, agency, year)


def _move_past(db: Database, serial: int, agency: str = "AB1900010", year: int = 2026) -> None:
    with db.transaction() as s:
        indexcounter.move_past(s, agency, year, serial)


def test_serials_count_from_one_per_agency_and_year(db: Database) -> None:
    assert [_next(db), _next(db), _next(db)] == [1, 2, 3]
    assert _next(db, year=2027) == 1
    assert _next(db, agency="CD2000020") == 1
    assert _next(db) == 4


def test_an_imported_number_moves_the_counter_past_it_and_never_back(db: Database) -> None:
    # a year without a counter yet: the import creates it
    _move_past(db, 40)
    assert _next(db) == 41
    # an older number (below the counter) moves nothing
    _move_past(db, 10)
    assert _next(db) == 42
    # the counter's own last number moves nothing either
    _move_past(db, 42)
    assert _next(db) == 43


def test_a_rolled_back_approval_gives_its_serial_back(db: Database) -> None:
    assert _next(db) == 1
    with pytest.raises(RuntimeError), db.transaction() as s:
        assert indexcounter.next_serial(s, "AB1900010", 2026) == 2
        raise RuntimeError("the approval failed after taking its number")
    assert _next(db) == 2


def test_an_import_moves_only_its_own_agencys_counter_of_its_year(db: Database) -> None:
    for agency, year in (("AB1900010", 2019), ("AB1900010", 2026), ("CD2000020", 2019)):
        assert _next(db, agency, year) == 1
    _move_past(db, 146, year=2019)
    assert _next(db, year=2019) == 147
    assert _next(db, year=2026) == 2  # the agency's other year
    assert _next(db, agency="CD2000020", year=2019) == 2  # another agency's same year


def test_an_imported_serial_zero_leaves_the_first_number_free(db: Database) -> None:
    _move_past(db, 0)  # AB1900010-2026-000, in a year without a counter yet
    assert _next(db) == 1
