"""One table, three files: CSV (UTF-8 with BOM, so Excel opens Chinese text), XLSX and JSON.

A table is a list of (key, 中文表头) columns and rows of plain values; every export of the
catalogues goes through here, so the three formats always carry the same columns.
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
        writer.writerow([table.cell(row, key) for key, _ in table.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = table.title[:31]  # Excel's sheet-name limit
    ws.append([header for _, header in table.columns])
    for row in table.rows:
        ws.append([table.cell(row, key) for key, _ in table.columns])
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
