"""索取号 (index numbers): the agency's pattern over a per-year serial. The counting, under
the counter's row lock, is the store's (`publisher.store.indexcounter`)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from publisher.settings import AgencySettings
from publisher.store import indexcounter


def next_index_number(session: Session, agency: AgencySettings, year: int) -> str:
    serial = indexcounter.next_serial(session, agency.code, year)
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
    indexcounter.move_past(session, agency.code, int(m.group(1)), int(m.group(2)))
