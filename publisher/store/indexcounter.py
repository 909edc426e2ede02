"""The 索取号 counters (table `index_counters`): one per agency and year, incremented under
its row lock.

The UPDATE … RETURNING takes the row lock on PostgreSQL, so concurrent approvals queue on
the counter row instead of racing; SQLite transactions here are BEGIN IMMEDIATE anyway. The
number's format belongs to `publisher.editorial.indexno`; this module counts.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from publisher.store.models import IndexCounter

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


def next_serial(session: Session, agency: str, year: int) -> int:
    """The year's next serial, held under the counter's row lock until the caller commits."""
    # Only the year's first number needs the upsert, which also settles two approvals racing
    # to create the counter; the plain UPDATE is the cheaper statement for every other one.
    conn = session.connection()
    params = {"agency": agency, "year": year}
    serial = conn.execute(_INCREMENT, params).scalar_one_or_none()
    if serial is None:
        serial = conn.execute(_FIRST_OR_INCREMENT, params).scalar_one()
    return int(serial)


def move_past(session: Session, agency: str, year: int, serial: int) -> None:
    """Make sure the year's counter never hands out `serial` or anything below it (a number
    taken elsewhere); a counter already past it stays where it is."""
    dialect = session.get_bind().dialect.name
    ins = pg_insert(IndexCounter) if dialect == "postgresql" else sqlite_insert(IndexCounter)
    session.execute(ins.values(agency=agency, year=year, last_serial=0).on_conflict_do_nothing())
    session.execute(
        update(IndexCounter)
        .where(IndexCounter.agency == agency, IndexCounter.year == year, IndexCounter.last_serial < serial)
        .values(last_serial=serial)
    )
