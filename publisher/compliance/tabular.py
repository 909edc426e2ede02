"""One table, three files: CSV (UTF-8 with BOM, so Excel opens Chinese text), XLSX and JSON.

A table is a list of (key, 中文表头) columns and rows of plain values; every export of the
catalogues goes through here, so the three formats always carry the same columns.

Cells are editors' text (titles, 文号, fee items) and citizens open these files in a
spreadsheet, which runs a cell beginning with `=`, `+`, `-`, `@` (or their full-width forms,
which spreadsheet input methods fold) as a formula, and one beginning with a tab or carriage
return after trimming it. So a text cell beginning with any of them is written with a leading
`'`, the spreadsheet's own "this is text" mark, in CSV and XLSX, and every XLSX text cell is a
string cell, never a formula. Numbers stay numbers. JSON carries the exact values: every
string there is typed as a string and nothing evaluates it (docs/security.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def as_text(value: Any) -> Any:
    """A spreadsheet cell that can never be a formula: see the module docstring."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[tuple[str, str]]  # (key, header)
    rows: Sequence[dict[str, Any]]

    def cell(self, row: dict[str, Any], key: str) -> Any:
        value = row.get(key)
        if isinstance(value, list | tuple):
            return "；".join(str(v) for v in value)
        return "" if value is None else value


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([header for _, header in table.columns])
    for row in table.rows:
        writer.writerow([as_text(table.cell(row, key)) for key, _ in table.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = table.title[:31]  # Excel's sheet-name limit
    for r, values in enumerate(
        [[header for _, header in table.columns]]
        + [[table.cell(row, key) for key, _ in table.columns] for row in table.rows],
        start=1,
    ):
        for c, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=as_text(value))
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would guess a formula from a leading '='
    ws.freeze_panes = "A2"
    for i, (key, header) in enumerate(table.columns, start=1):
        longest = max([len(header)] + [len(str(table.cell(r, key))) for r in table.rows[:200]])
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, 4 + 2 * longest)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_json(table: Table, **extra: Any) -> bytes:
    doc = {
        "title": table.title,
        **extra,
        "columns": [{"key": k, "label": h} for k, h in table.columns],
        "rows": [{k: row.get(k) for k, _ in table.columns} for row in table.rows],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def render(table: Table, fmt: str, **extra: Any) -> bytes:
    if fmt == "csv":
        return to_csv(table)
    if fmt == "xlsx":
        return to_xlsx(table)
    if fmt == "json":
        return to_json(table, **extra)
    raise ValueError(f"unknown format {fmt!r}")


def read_xlsx(data: bytes) -> list[list[Any]]:
    """Rows of the first sheet, header first (for tests and for ops checking an export)."""
    wb = load_workbook(io.BytesIO(data), read_only=True)
    ws = wb.worksheets[0]
    rows = [["" if c is None else c for c in r] for r in ws.iter_rows(values_only=True)]
    wb.close()
    return rows
