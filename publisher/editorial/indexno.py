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

from publisher.settings import AgencySettings
from publisher.store.models import IndexCounter


def _ensure_counter(session: Session, agency: str, year: int) -> None:
    dialect = session.get_bind().dialect.name
    ins = pg_insert(IndexCounter) if dialect == "postgresql" else sqlite_insert(IndexCounter)
    session.execute(ins.values(agency=agency, year=year, last_serial=0).on_conflict_do_nothing())


# Plain text, the same SQL on SQLite and PostgreSQL: this runs in every approval.
_INCREMENT = text(
    "UPDATE index_counters SET last_serial = last_serial + 1 WHERE agency = :agency AND year = :year "
    "RETURNING last_serial"
)
_FIRST_OR_INCREMENT = text(
    "INSERT INTO index_counters (agency, year, last_serial) VALUES (:agency, :year, 1) "
    "ON CONFLICT (agency, year) DO UPDATE SET last_serial = index_counters.last_serial + 1 "
    "RETURNING last_serial"
)


def next_index_number(session: Session, agency: AgencySettings, year: int) -> str:
    # Increment the year's counter under its row lock. Only the year's first number needs
    # the upsert, which also settles two approvals racing to create the counter; the plain
    # UPDATE is the cheaper statement for every other one.
    conn = session.connection()
    params = {"agency": agency.code, "year": year}
    serial = conn.execute(_INCREMENT, params).scalar_one_or_none()
    if serial is None:
        serial = conn.execute(_FIRST_OR_INCREMENT, params).scalar_one()
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
        .where(
            IndexCounter.agency == agency.code, IndexCounter.year == year, IndexCounter.last_serial < serial
        )
        .values(last_serial=serial)
    )
