"""The compliance commands of `publisher` on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from publisher.compliance.catalogue import COLUMNS
from publisher.compliance.tabular import read_xlsx
from publisher.domain.clock import local_today
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.cli_support import cli_env, run
from tests.publisher.compliance.support import draft, release
from tests.samples import policy

Env = dict[str, str | None]
SCHEDULE_2027 = Path(__file__).parent / "data" / "test-2027.json"


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Env:
    return cli_env(tmp_path, db_url)


def test_calendar_load_recomputes_provisional_due_dates(env: Env, service: Service, team: Team) -> None:
    uid = draft(service, team, policy(formed_at="2026-12-20"))
    before = json.loads(run(env, "compliance", "deadlines", "--json").stdout)
    assert [(d["uid"], d["due_on"], d["provisional"]) for d in before] == [(uid, "2027-01-18", True)]
    shown = json.loads(run(env, "calendar", "show", "2027", "--json").stdout)
    assert shown["source"] == "provisional"

    # only ops load calendars
    refused = run(env, "calendar", "load", str(SCHEDULE_2027), "--as", "editor")
    assert refused.exit_code == 2 and "ops" in refused.output
    result = run(env, "calendar", "load", str(SCHEDULE_2027), "--as", "ops", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["recomputed"] == [
        {
            "uid": uid,
            "title": "关于进一步规范财政资金管理的通知",
            "clock": "content",
            "was": "2027-01-18",
            "was_provisional": True,
            "due_on": "2027-01-15",
            "provisional": False,
        }
    ]
    assert json.loads(run(env, "calendar", "show", "2027", "--json").stdout)["source"] == "loaded"
    after = json.loads(run(env, "compliance", "deadlines", "--json").stdout)
    assert [(d["due_on"], d["provisional"]) for d in after] == [("2027-01-15", False)]


def test_calendar_load_refuses_a_bad_file(env: Env, tmp_path: Path, team: Team) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"year": 2027, "holidays": ["2028-01-01"]}), encoding="utf-8")
    result = run(env, "calendar", "load", str(bad), "--as", "ops")
    assert result.exit_code == 2 and "holidays.0" in result.output


def test_overdue_list_exits_1_when_anything_is_overdue(env: Env, service: Service, team: Team) -> None:
    assert run(env, "compliance", "overdue").exit_code == 0
    uid = draft(service, team, policy(formed_at="2024-09-25"))
    result = run(env, "compliance", "overdue", "--json")
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert (row["uid"], row["due_on"], row["status"]) == (uid, "2024-10-28", "overdue")
    assert "已逾期" in run(env, "compliance", "overdue").output


def test_catalogue_export_and_annual_figures(env: Env, service: Service, team: Team, tmp_path: Path) -> None:
    uid = release(service, team, policy())
    out = tmp_path / "catalogue.xlsx"
    result = run(env, "compliance", "catalogue", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    sheet = read_xlsx(out.read_bytes())
    assert sheet[0] == [h for _, h in COLUMNS] and sheet[1][-1] == uid

    year = str(local_today().year)
    result = run(env, "compliance", "annual", year, "--csv")
    rows = {r[3]: r[2] for r in csv.reader(io.StringIO(result.stdout)) if len(r) == 4}
    assert rows["published.policy"] == "1" and rows["catalogue.entries"] == "1" and rows["policies"] == "1"
    figures = json.loads(run(env, "compliance", "annual", year, "--json").stdout)["figures"]
    assert {f["key"]: f["value"] for f in figures}["published.total"] == 1
    assert "政策文件" in run(env, "compliance", "annual", year).output


def test_application_add_and_convert(env: Env, team: Team, tmp_path: Path) -> None:
    source = tmp_path / "application.json"
    source.write_text(
        json.dumps(
            {
                "number": "2026-0042",
                "received_on": "2026-11-01",
                "answered_on": "2026-11-20",
                "subject": "某专项资金分配结果",
                "answer": "经查，分配结果如下……",
                "applicant": "李四",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert run(env, "application", "add", "--file", str(source), "--as", "editor").exit_code == 0
    listed = json.loads(run(env, "application", "list", "--json").stdout)
    assert listed["total"] == 1 and "applicant" not in listed["applications"][0]
    result = run(
        env, "application", "convert", "2026-0042", "--reason", "普遍关注", "--as", "editor", "--json"
    )
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout)
    assert item["state"] == "draft" and "2026-0042" in item["content"]["body_html"]
    again = run(env, "application", "convert", "2026-0042", "--reason", "x", "--as", "editor")
    assert again.exit_code == 2 and "already converted" in again.output


def test_check_and_inspection_commands(env: Env, team: Team, service: Service) -> None:
    draft(service, team, policy(formed_at="2024-09-25"))
    result = run(env, "compliance", "check", "--as", "ops", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["deadlines"]) == 1
    assert run(env, "compliance", "check", "--as", "editor").exit_code == 2
    assert run(env, "compliance", "inspection", "--json").exit_code == 0
    assert run(env, "compliance", "reminders", "--json").stdout.strip() == "[]"
