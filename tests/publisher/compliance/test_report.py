"""The annual report in the State Council's template over real HTTP (SQLite and PostgreSQL):
six sections, the figures the service holds, 未填报 where staff have not entered what it
cannot know, what they entered once they have, and never an internal delivery count."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from bs4 import BeautifulSoup

from publisher.compliance import report
from publisher.domain.clock import local, utcnow
from publisher.domain.errors import PermissionDeniedError, ValidationError
from publisher.editorial.service import Service
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.publisher.compliance.web_support import *  # noqa: F403  (fixtures: runtime, base)
from tests.samples import policy

SECTIONS = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]


def _publish(service: Service, team: Team, data: dict) -> str:
    item = service.create_item(team.editor, data)
    service.submit(team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    service.approve(team.approver, item.uid)
    return item.uid


def _cells(soup: BeautifulSoup, table: str) -> dict[str, list[str]]:
    out = {}
    for tr in soup.select(f"{table} tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in tr.select("td")]
        out[cells[0]] = cells[1:]
    return out


def test_report_follows_the_template_with_the_services_figures(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    year = local(utcnow()).year
    # given two policies published this year, one of them abolished, and three applications
    kept = _publish(service, team, policy(title="关于规范财政资金管理的通知"))
    gone = _publish(service, team, policy(title="关于调整预算管理的通知", doc_number="沪财预[2026]13号"))
    today = local(utcnow()).date()
    service.abolish(team.approver, gone, validity="已废止", on=today)
    for n, (received, kind) in enumerate(
        ((date(year - 1, 12, 28), "予以公开"), (today, "部分公开"), (today, "信息不存在，无法提供"))
    ):
        runtime.compliance.record_application(
            team.editor,
            {
                "number": f"YSQ-{n}",
                "received_on": received.isoformat(),
                "answered_on": today.isoformat(),
                "subject": "申请公开预算执行情况",
                "answer": "答复内容。",
                "answer_type": kind,
            },
        )
    r = httpx.get(f"{base}/reports/annual/{year}")
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    assert [h.get_text(strip=True) for h in soup.select("#report h2")] == SECTIONS
    table2 = _cells(soup, "table.report-table:nth-of-type(1)")
    assert table2["行政规范性文件"] == ["2", "1", "1"]  # made, abolished, in force
    assert table2["规章"] == ["未填报"] * 3
    apps = _cells(soup, "#applications")
    assert apps["一、本年新收政府信息公开申请数量"] == ["2"]
    assert apps["二、上年结转政府信息公开申请数量"] == ["1"]
    assert apps["（一）予以公开"] == ["1"] and apps["（四）无法提供"] == ["1"]
    assert apps["（二）部分公开（区分处理的，只计这一情形，不计其他情形）"] == ["1"]
    assert apps["（七）总计"] == ["3"]
    assert "未填报" in soup.select_one("#reviews").get_text()
    # never internal delivery counts, on the page or in its data table
    text = soup.get_text()
    assert "投递" not in text and "deliver" not in text.lower()
    csv = httpx.get(f"{base}/reports/annual/{year}.csv").content.decode("utf-8-sig")
    assert "deliveries." not in csv and "渠道投递" not in csv
    assert kept and gone


def test_staff_fill_in_what_the_service_cannot_know_and_the_audit_keeps_only_changes(
    runtime: Runtime, base: str, team: Team, service: Service
) -> None:
    year = 2025
    compliance = runtime.compliance
    with pytest.raises(PermissionDeniedError):
        compliance.save_annual_report(team.reviewer, year, {"permits": "3"})
    with pytest.raises(ValidationError) as bad:
        compliance.save_annual_report(
            team.editor, year, {"permits": "三", "fee_income": "-1", "review.upheld": "1"}
        )
    assert {e.field for e in bad.value.errors} == {"permits", "fee_income"}
    assert compliance.annual_report(year).inputs == {}  # nothing half-written
    compliance.save_annual_report(
        team.editor,
        year,
        {
            "overview": "本年度，本机关认真贯彻落实《条例》。\n持续推进政务公开。",
            "permits": "12",
            "fee_income": "3.5",
            "review.upheld": "1",
            "review.corrected": "2",
        },
    )
    soup = BeautifulSoup(httpx.get(f"{base}/reports/annual/{year}").text, "html.parser")
    paragraphs = [p.get_text(strip=True) for p in soup.select("#report p")]
    assert "持续推进政务公开。" in paragraphs
    assert _cells(soup, "#reviews")["行政复议"] == ["1", "2", "未填报", "未填报", "3"]
    assert "12" in soup.select("table.report-table")[1].get_text()
    # a second save changing one value: the audit event names that field only
    compliance.save_annual_report(
        team.approver,
        year,
        {
            "overview": "本年度，本机关认真贯彻落实《条例》。\n持续推进政务公开。",
            "permits": "13",
            "fee_income": "3.5",
            "review.upheld": "1",
            "review.corrected": "2",
        },
    )
    events = [e for e in service.audit_events(limit=1000) if e["action"] == "annual_report.edit"]
    assert len(events) == 2
    assert events[-1]["data"]["changes"] == {"permits": [12, 13]}
    assert events[-1]["actor"] == team.approver.name


def test_policy_figures_from_the_kept_counts_by_year_change_and_withdrawal() -> None:
    # (publication year, '<validity>|<year of change>', withdrawn) -> policies, as migration 0017 keeps them
    kept = {
        ("2024", "有效|", False): 5,
        ("2025", "有效|", False): 3,
        ("2025", "有效|", True): 1,  # withdrawn: made, never in force
        ("2024", "已废止|2025", False): 2,  # abolished in 2025: in force at the end of 2024 only
        ("2025", "已失效|2026", False): 4,  # expired the year after: in force at the end of 2025
        ("2024", "已修订|2025", False): 6,  # amended is not abolished, and not in force after
        ("2026", "有效|", False): 7,  # later: not in 2025's figures
        ("", "有效|", False): 8,  # never published
        ("2023", "已废止|", False): 9,  # abolished without a date: never counted in force
    }
    assert report.policy_figures(kept, 2025) == (3 + 1 + 4, 2, 5 + 3 + 4)
    assert report.policy_figures(kept, 2024) == (5 + 2 + 6, 0, 5 + 2 + 6)
    assert report.policy_figures(kept, 2026) == (7, 4, 5 + 3 + 7)
