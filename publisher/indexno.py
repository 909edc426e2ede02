"""索取号 (index numbers): one counter per agency and year, incremented under a row lock.

The UPDATE … RETURNING takes the row lock on PostgreSQL, so concurrent approvals queue on
the counter row instead of racing; SQLite transactions here are BEGIN IMMEDIATE anyway.
"""

from __future__ import annotations

import re

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import IndexCounter
from .settings import AgencySettings


def _ensure_counter(session: Session, agency: str, year: int) -> None:
    dialect = session.get_bind().dialect.name
    ins = pg_insert(IndexCounter) if dialect == "postgresql" else sqlite_insert(IndexCounter)
    session.execute(ins.values(agency=agency, year=year, last_serial=0).on_conflict_do_nothing())


_NEXT_SERIAL = text(
    "INSERT INTO index_counters (agency, year, last_serial) VALUES (:agency, :year, 1) "
    "ON CONFLICT (agency, year) DO UPDATE SET last_serial = index_counters.last_serial + 1 "
    "RETURNING last_serial"
)


def next_index_number(session: Session, agency: AgencySettings, year: int) -> str:
    # One upsert statement, the same SQL on SQLite and PostgreSQL: creates the year's counter
    # at 1 or increments it under the row lock. Plain text: it runs in every approval.
    serial = session.connection().execute(_NEXT_SERIAL, {"agency": agency.code, "year": year}).scalar_one()
    return agency.index_pattern.format(code=agency.code, year=year, serial=serial)


def provisional(agency: AgencySettings, year: int) -> str:
    """What a number of that year looks like, for checks made before the real one is taken
    (the first of the year: same pattern, same shape)."""
    return agency.index_pattern.format(code=agency.code, year=year, serial=1)


def reserve_existing(session: Session, agency: AgencySettings, number: str) -> None:
    """An imported item keeps the number it already had; move our counter past it so the
    system never hands the same number out again."""
    m = re.match(rf"^{re.escape(agency.code)}-(\d{{4}})-(\d+)$", number)
    if not m:
        return
    year, serial = int(m.group(1)), int(m.group(2))
    _ensure_counter(session, agency.code, year)
    session.execute(
        update(IndexCounter)
        .where(IndexCounter.agency == agency.code, IndexCounter.year == year, IndexCounter.last_serial < serial)
        .values(last_serial=serial)
    )
