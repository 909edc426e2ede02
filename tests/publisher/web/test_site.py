"""The public disclosure site over real HTTP (SQLite and PostgreSQL): the home page and its
sections, the guide and rules as items of their own types (versions and audit like every
item), links that follow where the site is served, the annual report list and the Chinese
error pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from bs4 import BeautifulSoup

from publisher.editorial.service import Service
from publisher.runtime import Runtime
from publisher.web.app import create_app
from tests.conftest import Team
from tests.publisher.compliance.web_support import *  # noqa: F403  (fixtures: runtime, base)
from tests.publisher.web.live import serve
from tests.samples import policy
from tests.support import answering

HTML = {"Accept": "text/html,application/xhtml+xml"}
SECTIONS = [
    "信息公开指南",
    "信息公开制度",
    "法定主动公开内容",
    "主动公开目录",
    "依申请公开",
    "信息公开年报",
    "订阅",
]
# An English sentence on a public page: three Latin words in a row (feed format names aside).
ENGLISH = re.compile(r"\b(?!RSS|Atom)[A-Za-z]{2,}\s+(?!RSS|Atom)[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")


def guide(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "type": "guide",
        "title": "上海市财政局政府信息公开指南",
        "issue_date": "2026-01-05",
        "subject": "综合政务\\政务公开",
        "description": "主动公开的范围、依申请公开的办理方式和监督渠道。",
        "body_html": "<h2>一、主动公开</h2><p>本机关主动公开的信息在本网站发布。</p>",
    }
    data.update(overrides)
    return data


def publish(service: Service, team: Team, data: dict[str, object]) -> str:
    item = service.create_item(team.editor, data)
    service.submit(team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    service.approve(team.approver, item.uid)
    return item.uid


def main_text(html: str) -> str:
    return BeautifulSoup(html, "html.parser").select_one("main").get_text(" ", strip=True)


def test_home_page_has_every_section_with_the_guide_rules_and_documents(
    base: str, service: Service, team: Team
) -> None:
    # an empty site still answers with the whole structure, in Chinese
    r = httpx.get(f"{base}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    soup = BeautifulSoup(r.text, "html.parser")
    assert [h.get_text(strip=True) for h in soup.select("main h2")] == SECTIONS
    assert "正在编制" in soup.select_one("#guide").get_text()
    # given a guide, two rules and a policy published through the workflow
    guide_uid = publish(service, team, guide())
    rules = [
        publish(service, team, guide(type="rules", title=title, description=""))
        for title in ("政府信息公开保密审查制度", "政府信息公开工作考核制度")
    ]
    policy_uid = publish(service, team, policy())
    soup = BeautifulSoup(httpx.get(f"{base}/").text, "html.parser")
    assert soup.select_one("#guide a")["href"] == f"/items/{guide_uid}"
    assert {a["href"] for a in soup.select("#rules li a")} == {f"/items/{u}" for u in rules}
    # the statutory categories count the documents; the catalogue lists the policy only
    counts = {
        a["href"]: a.select_one(".count").get_text()
        for a in soup.select("#statutory a")
        if a.select_one(".count")
    }
    assert counts["/items?type=policy"] == "1 条" and counts["/items?type=notice"] == "0 条"
    assert [a["href"] for a in soup.select("#latest a")] == [f"/items/{policy_uid}"]
    # the guide and the rules are pages of the site, not documents of the list
    listed = BeautifulSoup(httpx.get(f"{base}/items").text, "html.parser")
    assert [a["href"] for a in listed.select("#items a")] == [f"/items/{policy_uid}"]
    # each annual report year links to its report; the subscription section explains feeds
    years = [a["href"] for a in soup.select("#annual li a")]
    assert years and all(re.fullmatch(r"/reports/annual/\d{4}", y) for y in years)
    assert "阅读器" in soup.select_one("#subscribe").get_text()
    assert not ENGLISH.search(main_text(r.text)), ENGLISH.search(main_text(r.text))


def test_the_guide_is_an_item_with_versions_and_audit(base: str, service: Service, team: Team) -> None:
    uid = publish(service, team, guide())
    page = httpx.get(f"{base}/items/{uid}")
    assert page.status_code == 200 and "一、主动公开" in page.text
    # a revision goes through review and approval again and replaces the public text
    service.update_item(team.editor, uid, {"body_html": "<h2>一、主动公开</h2><p>修订后的指南。</p>"})
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    service.approve(team.approver, uid)
    page = httpx.get(f"{base}/items/{uid}")
    assert "修订后的指南" in page.text and "第 2 版" in page.text
    actions = [e["action"] for e in service.audit_events(item_uid=uid)]
    assert actions.count("approve") == 2 and "create" in actions


def test_links_follow_where_the_site_is_served_or_the_configured_address(
    make_runtime: Callable[..., Runtime], service: Service, team: Team
) -> None:
    configured = make_runtime(executor=False, public_base_url="https://gk.example.gov.cn/caizheng")
    with serve(create_app(configured)) as url:
        soup = BeautifulSoup(httpx.get(f"{url}/").text, "html.parser")
        hrefs = [link["href"] for link in soup.select('head link[rel="alternate"]')]
        assert hrefs and all(h.startswith("https://gk.example.gov.cn/caizheng/feeds/") for h in hrefs)
    unconfigured = make_runtime(executor=False)
    with serve(create_app(unconfigured)) as url:
        soup = BeautifulSoup(httpx.get(f"{url}/").text, "html.parser")
        hrefs = [link["href"] for link in soup.select('head link[rel="alternate"]')]
        assert hrefs and all(h.startswith(f"{url}/feeds/") for h in hrefs)
        assert "127.0.0.1:8000" not in httpx.get(f"{url}/feeds").text


def test_annual_reports_list_the_years_and_bad_parameters_get_a_chinese_page(
    base: str, service: Service, team: Team
) -> None:
    publish(service, team, policy())
    soup = BeautifulSoup(httpx.get(f"{base}/reports/annual").text, "html.parser")
    years = [a["href"] for a in soup.select("#years a")]
    assert years and years[0] == f"/reports/annual/{time.gmtime().tm_year}"
    for path in ("/reports/annual/abc", "/reports/annual/1999", "/catalogue?year=19x9", "/nosuchpage"):
        r = httpx.get(base + path, headers=HTML)
        assert r.status_code in (404, 422), path
        assert r.headers["content-type"].startswith("text/html"), path
        text = main_text(r.text)
        assert re.search(r"[\u4e00-\u9fff]", text) and not ENGLISH.search(text), (path, text)
        assert "Field required" not in r.text and "Input should" not in r.text
    assert "年份" in main_text(httpx.get(f"{base}/reports/annual/abc", headers=HTML).text)
    # API clients keep the JSON error shape
    r = httpx.get(f"{base}/reports/annual/abc")
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("year")


def test_withdrawn_item_reads_in_chinese_only(base: str, service: Service, team: Team) -> None:
    uid = publish(service, team, policy())
    service.withdraw(team.approver, uid, "内容已过时")
    r = httpx.get(f"{base}/items/{uid}")
    assert r.status_code == 410
    text = main_text(r.text)
    assert "已撤回" in text and "内容已过时" in text and not ENGLISH.search(text), text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_on_another_port_links_there(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PUBLISHER_DATA_DIR": str(tmp_path),
        "PUBLISHER_CONFIG": str(tmp_path / "none.toml"),
    }
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    env.pop("PUBLISHER_PUBLIC_BASE_URL", None)
    cmd = [
        str(Path(sys.executable).with_name("publisher")),
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        r = answering(f"http://127.0.0.1:{port}/", proc, 60)
        soup = BeautifulSoup(r.text, "html.parser")
        hrefs = [link["href"] for link in soup.select('head link[rel="alternate"]')]
        assert hrefs and all(h.startswith(f"http://127.0.0.1:{port}/feeds/") for h in hrefs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


OTHER_VOCABULARY = {
    "index_number": "索引号",
    "issue_date": "成文日期",
    "validity": "有效性",
    "doc_number": "发文字号",
}


def test_one_vocabulary_on_every_page_export_and_channel(
    make_runtime: Callable[..., Runtime], service: Service, team: Team
) -> None:
    # given an agency whose site says 索引号, 成文日期, 有效性 and 发文字号 (one setting)
    rt = make_runtime(
        {"rss": {"enabled": True}},
        executor=False,
        agency={"code": "AB1900010", "name": "上海市财政局", "labels": OTHER_VOCABULARY},
    )
    uid = publish(rt.service, team, policy(doc_number=None))
    with serve(create_app(rt)) as url:
        item = BeautifulSoup(httpx.get(f"{url}/items/{uid}").text, "html.parser")
        panel = {
            th.get_text(strip=True): th.find_next_sibling("td").get_text(strip=True)
            for th in item.select("#metadata th")
        }
        assert {"索引号", "成文日期", "有效性", "发文字号", "发文机关", "发布日期"} <= set(panel)
        assert not {"索取号", "印发日期", "是否有效"} & set(panel)
        assert all(panel.values()), panel  # no empty cell: a missing 文号 says so
        assert panel["发文字号"] == "无文号"
        for path, table in (("/items", "#items"), ("/catalogue", "#catalogue")):
            heads = [
                th.get_text(strip=True)
                for th in BeautifulSoup(httpx.get(url + path).text, "html.parser").select(f"{table} thead th")
            ]
            assert {"索引号", "成文日期", "有效性"} <= set(heads), (path, heads)
            assert not {"索取号", "印发日期", "是否有效", "成文日期 "} & set(heads)
        csv = httpx.get(f"{url}/catalogue.csv").content.decode("utf-8-sig").splitlines()[0]
        assert "索引号" in csv and "成文日期" in csv and "有效性" in csv and "印发日期" not in csv
    # the channels render the same names (VersionView.labels)
    from channels.cms.render import metadata_panel
    from channels.wechat.channel import VALIDITY_LINE
    from publisher.editorial.views import view_of
    from publisher.editorial.workflow import get_item

    with rt.db.reader() as s:
        item_row = get_item(s, uid)
        view = view_of(s, rt.settings, item_row, item_row.versions[-1])
    cms = metadata_panel(view)
    assert "<th>索引号</th>" in cms and "<th>成文日期</th>" in cms and "<th>索取号</th>" not in cms
    # the WeChat inventory reads the validity line under either vocabulary
    for line in ("有效性：已废止<br/>", "是否有效：已废止</p>"):
        match = VALIDITY_LINE.search(line)
        assert match and match.group(1) == "已废止", line
    assert VALIDITY_LINE.search("文号：有效期三年<br/>") is None


def test_the_default_vocabulary_is_the_bureaus(base: str, service: Service, team: Team) -> None:
    publish(service, team, policy())
    heads = [
        th.get_text(strip=True)
        for th in BeautifulSoup(httpx.get(f"{base}/catalogue").text, "html.parser").select(
            "#catalogue thead th"
        )
    ]
    assert {"索取号", "印发日期", "是否有效", "发文机关", "文号", "发布日期"} <= set(heads)
    assert not {"成文日期", "有效性", "索引号"} & set(heads)
