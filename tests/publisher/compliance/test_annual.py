"""The year's figures from a year of activity, delivered through the ledger (embedded executor +
rss), as the API, the page and the CSV show them."""

from __future__ import annotations

import csv
import io

import httpx
from bs4 import BeautifulSoup

from publisher.compliance.annual import annual_figures, as_dict
from publisher.domain.clock import local_today, utcnow
from publisher.runtime import Runtime
from publisher.web.app import create_app
from tests.conftest import Team
from tests.publisher.compliance.engine_support import delivered, live  # noqa: F401
from tests.publisher.compliance.support import release
from tests.publisher.compliance.test_fees import ADMIN, fee, row
from tests.publisher.web.live import serve
from tests.samples import policy, sample
from tests.support import wait_for


def year_of_activity(rt: Runtime, team: Team) -> dict[str, str]:
    s = rt.service
    group = [s.create_item(team.editor, sample(ref)).uid for ref in ("policy-2019-plan", "interp-2019-plan")]
    for uid in group:
        s.submit(team.editor, uid)
        s.review(team.reviewer, uid)
    s.approve(team.approver, group[0])
    uids = {
        "plan": group[0],
        "interp": group[1],
        "lonely": release(s, team, policy(ref="p-lonely")),
        "gone": release(s, team, policy(ref="p-gone", doc_number="沪财预[2026]13号")),
        "notice": release(s, team, sample("notice-abolish", abolishes=[])),
        "consultation": release(s, team, sample("consult-2019-01")),
        "fee": release(
            s,
            team,
            fee(
                "fee-a",
                ADMIN,
                f"{local_today().year}-01-01",
                row("新增", "甲", new="1元"),
                row("新增", "乙", new="2元"),
                row("取消", "丙", "3元"),
            ),
        ),
    }
    # each change after the first publication was delivered, so the counts do not depend on timing
    wait_for(lambda: all(delivered(rt, u) for u in uids.values()), timeout=30, what="first publications")
    s.abolish(team.approver, uids["lonely"], on=local_today())
    s.abolish(team.approver, uids["notice"], on=local_today(), validity="已修订")
    s.withdraw(team.approver, uids["gone"], "错误发布")
    return uids


def test_annual_figures_page_and_csv(live: Runtime, team: Team) -> None:  # noqa: F811
    uids = year_of_activity(live, team)
    year = local_today().year
    wait_for(lambda: all(delivered(live, u) for u in uids.values()), timeout=30, what="every delivery")
    with live.db.reader() as s:
        figures = as_dict(annual_figures(s, year, utcnow(), live.settings.public_base_url))
    expected = {
        "published.policy": 3,
        "published.interpretation": 1,
        "published.notice": 1,
        "published.consultation": 1,
        "published.fee_change": 1,
        "published.procurement_result": 0,
        "published.total": 7,
        "withdrawn": 1,
        "catalogue.entries": 6,
        "catalogue.valid": 4,
        "validity.abolished": 1,
        "validity.amended": 1,
        "validity.expired": 0,
        "policies": 3,
        "policies.interpreted": 1,
        "consultations": 1,
        "consultations.reports": 0,
        "fees.added": 2,
        "fees.cancelled": 1,
        "fees.adjusted": 0,
        # 7 first publications, 2 validity updates and 1 withdrawal, all on rss
        "deliveries.rss.publish": 7,
        "deliveries.rss.update": 2,
        "deliveries.rss.withdraw": 1,
        "deliveries.rss": 10,
    }
    assert {k: figures.get(k) for k in expected} == expected
    with live.db.reader() as s:
        assert as_dict(annual_figures(s, 2019, utcnow()))["published.total"] == 0

    with serve(create_app(live)) as url, httpx.Client(base_url=url) as client:
        page = client.get(f"/reports/annual/{year}")
        assert page.status_code == 200
        # the public report (tests/publisher/compliance/test_report.py) and its data table
        # carry no internal delivery counts; the API for staff does
        report = BeautifulSoup(page.text, "html.parser").select_one("#report")
        assert report is not None and "一、总体情况" in report.get_text()
        assert "投递" not in report.get_text()
        text = client.get(f"/reports/annual/{year}.csv").content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["类别", "指标", "数值", "键"]
        public = {k: v for k, v in figures.items() if not k.startswith("deliveries.")}
        assert {r[3]: int(r[2]) for r in rows[1:]} == public
        assert client.get("/reports/annual/1999").status_code == 422
        token = {"Authorization": f"Bearer {team.tokens['ops']}"}
        api = client.get(f"/api/compliance/annual/{year}", headers=token).json()
        assert {f["key"]: f["value"] for f in api["figures"]} == figures
