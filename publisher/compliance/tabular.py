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
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

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
    # a list, or an iterator read once (the catalogue's exports stream their rows from the
    # database: a file of 100,000 rows is written without holding them)
    rows: Iterable[dict[str, Any]]

    def cell(self, row: dict[str, Any], key: str) -> Any:
        value = row.get(key)
        if isinstance(value, list | tuple):
            return "；".join(str(v) for v in value)
        return "" if value is None else value


CHUNK_ROWS = 200  # rows per chunk of a streamed CSV or JSON file
FILE_CHUNK = 64 * 1024  # bytes per chunk of a streamed XLSX file


def stream_csv(table: Table) -> Iterator[bytes]:
    """The CSV file in chunks of CHUNK_ROWS rows; only a chunk is held at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow([header for _, header in table.columns])
    for n, row in enumerate(table.rows, start=1):
        writer.writerow([as_text(table.cell(row, key)) for key, _ in table.columns])
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def stream_xlsx(table: Table) -> Iterator[bytes]:
    """The XLSX file: rows go through openpyxl's write-only mode (each row is written to a
    temporary file as it comes, none is kept in memory), then the finished file is read out in
    chunks. The column widths follow the first 200 rows, read ahead before any is written."""
    rows = iter(table.rows)
    first = list(islice(rows, 200))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(table.title[:31])  # Excel's sheet-name limit
    ws.freeze_panes = "A2"
    for i, (key, header) in enumerate(table.columns, start=1):
        longest = max([len(header)] + [len(str(table.cell(r, key))) for r in first])
        ws.column_dimensions[get_column_letter(i)].width = min(60, 4 + 2 * longest)

    def text_cells(values: list[Any]) -> list[Any]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=as_text(value))
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would guess a formula from a leading '='
            cells.append(cell)
        return cells

    ws.append(text_cells([header for _, header in table.columns]))
    for row in chain(first, rows):
        ws.append(text_cells([table.cell(row, key) for key, _ in table.columns]))
    with tempfile.TemporaryFile() as out:
        wb.save(out)
        out.seek(0)
        while chunk := out.read(FILE_CHUNK):
            yield chunk


def stream_json(table: Table, **extra: Any) -> Iterator[bytes]:
    """The JSON document with its rows written CHUNK_ROWS at a time (the same document
    `json.loads` reads as the one built at once)."""
    head = {"title": table.title, **extra, "columns": [{"key": k, "label": h} for k, h in table.columns]}
    text = json.dumps(head, ensure_ascii=False, indent=1, default=str)
    parts = [text[: text.rindex("}")].rstrip() + ',\n "rows": [']
    for n, row in enumerate(table.rows):
        doc = json.dumps({k: row.get(k) for k, _ in table.columns}, ensure_ascii=False, default=str)
        parts.append(("\n  " if n == 0 else ",\n  ") + doc)
        if len(parts) >= CHUNK_ROWS:
            yield "".join(parts).encode("utf-8")
            parts = []
    parts.append("\n ]\n}")
    yield "".join(parts).encode("utf-8")


def stream(table: Table, fmt: str, **extra: Any) -> Iterator[bytes]:
    """The file of `table` in `fmt`, in chunks (a streamed HTTP answer, a file written as it comes)."""
    if fmt == "csv":
        return stream_csv(table)
    if fmt == "xlsx":
        return stream_xlsx(table)
    if fmt == "json":
        return stream_json(table, **extra)
    raise ValueError(f"unknown format {fmt!r}")


def to_csv(table: Table) -> bytes:
    return b"".join(stream_csv(table))


def to_xlsx(table: Table) -> bytes:
    return b"".join(stream_xlsx(table))


def to_json(table: Table, **extra: Any) -> bytes:
    return b"".join(stream_json(table, **extra))


def render(table: Table, fmt: str, **extra: Any) -> bytes:
    return b"".join(stream(table, fmt, **extra))


def read_xlsx(data: bytes) -> list[list[Any]]:
    """Rows of the first sheet, header first (for tests and for ops checking an export)."""
    wb = load_workbook(io.BytesIO(data), read_only=True)
    ws = wb.worksheets[0]
    rows = [["" if c is None else c for c in r] for r in ws.iter_rows(values_only=True)]
    wb.close()
    return rows
