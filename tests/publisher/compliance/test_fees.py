"""Fee catalogues maintained by fee_change items (SQLite and PostgreSQL): three items give the
expected tables; a withdrawal takes its rows out again and stays in the history; exports and the
RSS of changes over real HTTP."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import feedparser
import httpx

from publisher.compliance.fees import fee_catalogue, fee_history
from publisher.compliance.tabular import read_xlsx
from publisher.domain.clock import utcnow
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.compliance.support import release
from tests.publisher.compliance.web_support import base, runtime  # noqa: F401

ADMIN = "行政事业性收费目录"
FUND = "政府性基金目录"


def fee(ref: str, catalogue: str, effective: str, *changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": ref,
        "type": "fee_change",
        "title": f"关于调整{catalogue}的通知（{ref}）",
        "issue_date": "2026-11-01",
        "subject": "财政\\收费管理",
        "catalogue": catalogue,
        "effective_date": effective,
        "changes": list(changes),
        "body_html": "<p>见附表。</p>",
    }


def row(
    action: str, item: str, old: str | None = None, new: str | None = None, dept: str = "市示例局"
) -> dict[str, Any]:
    return {"action": action, "item": item, "department": dept, "old_standard": old, "new_standard": new}


def three_fee_changes(service: Service, team: Team) -> list[str]:
    return [
        release(
            service,
            team,
            fee(
                "fee-1",
                ADMIN,
                "2026-01-01",
                row("新增", "证照工本费", new="每本10元"),
                row("新增", "考试考务费", new="每科60元"),
                row("新增", "登记费", new="每件30元"),
            ),
        ),
        release(
            service,
            team,
            fee(
                "fee-2",
                ADMIN,
                "2026-06-01",
                row("调整", "考试考务费", "每科60元", "每科45元"),
                row("取消", "登记费", "每件30元"),
                row("新增", "鉴定费", new="每次200元", dept="市另一局"),
            ),
        ),
        release(
            service, team, fee("fee-3", FUND, "2026-07-01", row("新增", "示例建设基金", new="按销售额1%"))
        ),
    ]


def table(entries: list[Any]) -> list[tuple[str | None, ...]]:
    return [(e.item, e.department, e.standard, e.since.isoformat()) for e in entries]


def test_three_fee_changes_give_the_expected_catalogues(service: Service, team: Team) -> None:
    three_fee_changes(service, team)
    with service.db.reader() as s:
        history = fee_history(s, utcnow())
    admin, notes = fee_catalogue(history, ADMIN)
    assert table(admin) == [
        ("考试考务费", "市示例局", "每科45元", "2026-06-01"),
        ("证照工本费", "市示例局", "每本10元", "2026-01-01"),
        ("鉴定费", "市另一局", "每次200元", "2026-06-01"),
    ]
    assert notes == []
    assert table(fee_catalogue(history, FUND)[0]) == [
        ("示例建设基金", "市示例局", "按销售额1%", "2026-07-01")
    ]
    assert fee_catalogue(history, "涉企行政事业性收费目录")[0] == []
    # as of a day before the second change, the first one alone
    with service.db.reader() as s:
        earlier = fee_history(s, utcnow(), as_of=date(2026, 5, 31))
    assert [e.item for e in fee_catalogue(earlier, ADMIN)[0]] == ["登记费", "考试考务费", "证照工本费"]
    assert {r.status for r in earlier if r.effective_date > date(2026, 5, 31)} == {"pending"}


def test_withdrawal_reverts_and_stays_in_the_history(service: Service, team: Team) -> None:
    uids = three_fee_changes(service, team)
    service.withdraw(team.approver, uids[1], "依据文件有误")
    with service.db.reader() as s:
        history = fee_history(s, utcnow())
    admin, _ = fee_catalogue(history, ADMIN)
    assert table(admin) == [
        ("登记费", "市示例局", "每件30元", "2026-01-01"),
        ("考试考务费", "市示例局", "每科60元", "2026-01-01"),
        ("证照工本费", "市示例局", "每本10元", "2026-01-01"),
    ]
    assert [r.status for r in history if r.source_uid == uids[1]] == ["withdrawn"] * 3


def test_unknown_items_are_applied_and_noted(service: Service, team: Team) -> None:
    # the bureau's catalogues predate the service: the sample cancels and adjusts unknown items
    release(
        service,
        team,
        fee(
            "fee-x",
            ADMIN,
            "2019-07-01",
            row("取消", "示例收费项目甲", "每件10元"),
            row("调整", "示例收费项目乙", "每次50元", "每次30元"),
        ),
    )
    with service.db.reader() as s:
        entries, notes = fee_catalogue(fee_history(s, utcnow()), ADMIN)
    assert table(entries) == [("示例收费项目乙", "市示例局", "每次30元", "2019-07-01")]
    assert len(notes) == 2 and "示例收费项目甲" in notes[0]


def test_fee_pages_exports_and_feed(service: Service, team: Team, base: str) -> None:  # noqa: F811
    uids = three_fee_changes(service, team)
    service.withdraw(team.approver, uids[2], "撤回")
    with httpx.Client(base_url=base) as client:
        page = client.get("/fees")
        assert page.status_code == 200 and "鉴定费" in page.text and "已撤回" in page.text
        sheet = read_xlsx(client.get("/fees/administrative-fees.xlsx").content)
        assert sheet[0][:4] == ["项目名称", "执收部门", "收费标准", "执行日期"]
        assert [r[0] for r in sheet[1:]] == ["考试考务费", "证照工本费", "鉴定费"]
        doc = json.loads(client.get("/fees/government-funds.json").content)
        assert doc["rows"] == []  # the fund's only change was withdrawn
        history = client.get("/fees/history.csv").content.decode("utf-8-sig")
        assert history.count("\r\n") == 1 + 7
        assert client.get("/fees/nosuch.csv").status_code == 404
        feed = feedparser.parse(client.get("/fees/changes.rss").content)
    titles = [e.title for e in feed.entries]
    assert (
        len(titles) == 3 and titles[0].startswith(f"【{FUND}】新增“示例建设基金”") and "已撤回" in titles[0]
    )
    assert any("取消“登记费”" in t for t in titles)
