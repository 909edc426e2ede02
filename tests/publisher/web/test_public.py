"""Public pages over real HTTP, from items published through the service (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import date

import httpx
from bs4 import BeautifulSoup

from channels.base import Operation
from publisher.editorial.service import Service
from publisher.editorial.views import view_of
from publisher.editorial.workflow import get_item
from publisher.runtime import Runtime
from publisher.web.public import PAGE_SIZE
from tests.conftest import Team
from tests.publisher.compliance.web_support import *  # noqa: F403  (fixtures: runtime, base)
from tests.samples import legacy_index_number, policy, sample

LEGACY = {"policy-2019-plan"}


def release(service: Service, team: Team, *datas: dict) -> list[str]:
    uids = []
    for data in datas:
        item = service.create_item(team.editor, data)
        if data.get("ref") in LEGACY:  # its 索取号 from before the system, imported by an admin
            service.import_index_number(team.admin, item.uid, legacy_index_number(str(data["ref"])))
        service.submit(team.editor, item.uid)
        service.review(team.reviewer, item.uid)
        uids.append(item.uid)
    service.approve(team.approver, uids[0])
    return uids


def deliver_rss(runtime: Runtime, uid: str, op: Operation = Operation.PUBLISH) -> None:
    """What the engine will do for the rss delivery (it is not wired here yet)."""
    with runtime.db.reader() as s:
        item = get_item(s, uid)
        version = next(v for v in item.versions if v.number == item.live_version)
        view = view_of(s, runtime.settings, item, version)
    channel = runtime.channels.get("rss")
    channel.send(channel.render(view, op), key=f"{uid}.v{view.version}.rss.{op.value}")


def panel(html: str) -> dict[str, str]:
    soup = BeautifulSoup(html, "html.parser")
    cells = soup.select("#metadata th")
    return {th.get_text(strip=True): th.find_next_sibling("td").get_text(" ", strip=True) for th in cells}


def alternates(html: str) -> dict[str, str]:
    soup = BeautifulSoup(html, "html.parser")
    return {link["href"]: link["type"] for link in soup.select('head link[rel="alternate"]')}


def test_item_page_shows_the_metadata_panel_body_links_and_feeds(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    # given a policy and its interpretation released together, delivered to the rss channel
    pol_uid, int_uid = release(service, team, sample("policy-2019-plan"), sample("interp-2019-plan"))
    assert service.item_detail(pol_uid)["index_number"] == "AB1900010-2019-146"
    fee_uid = release(service, team, sample("fee-2019-adjust"))[0]
    for uid in (pol_uid, int_uid, fee_uid):
        deliver_rss(runtime, uid)
    # when the public opens the policy's page
    r = httpx.get(f"{base}/items/{pol_uid}")
    # then it shows the panel as the bureau's site does, the body and the linked interpretation
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    meta = panel(r.text)
    assert meta["索取号"] == "AB1900010-2019-146"
    assert meta["发文机关"] == "上海市财政局"
    assert meta["印发日期"] == "2019-04-04"
    assert meta["文号"] == "无文号"  # no empty cell left unexplained
    assert meta["是否有效"] == "有效"
    assert meta["内容描述"].startswith("根据2019年上海市政务公开工作要点")
    assert meta["信息名称"] == "上海市财政局2019年政务公开实施方案"
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.h1.get_text() == "上海市财政局2019年政务公开实施方案"
    assert "一、总体要求" in soup.select_one(".body").get_text()
    assert soup.select_one("#interpretations a")["href"] == f"/items/{int_uid}"
    # and feed discovery: all, the type's feed and the subject class's feeds
    feeds = alternates(r.text)
    public = base  # no public address configured: links point where the page was served from
    assert feeds[f"{public}/feeds/all.rss"] == "application/rss+xml"
    assert feeds[f"{public}/feeds/all.atom"] == "application/atom+xml"
    assert feeds[f"{public}/feeds/type/policy.rss"] == "application/rss+xml"
    assert len([h for h in feeds if "/feeds/subject/" in h]) == 4  # 综合政务, 综合政务\政务公开 × 2 formats
    # every discovered feed is served
    for href in feeds:
        assert httpx.get(base + href.removeprefix(public)).status_code == 200, href
    # the interpretation links back to its policy
    r = httpx.get(f"{base}/items/{int_uid}")
    assert BeautifulSoup(r.text, "html.parser").select_one("#policy a")["href"] == f"/items/{pol_uid}"
    # a fee change shows its 文号 (normalised) and its change rows
    r = httpx.get(f"{base}/items/{fee_uid}")
    assert panel(r.text)["文号"] == "沪财税〔2019〕21号"
    assert "收费目录变动" in r.text


def test_abolished_policy_is_marked_and_withdrawn_item_is_gone(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    (uid,) = release(service, team, policy())
    other = release(service, team, policy(title="关于加强预算绩效管理的通知", doc_number=None))[0]
    service.abolish(team.approver, uid, on=date(2026, 12, 1))
    # the item page shows the current validity and the date it changed
    r = httpx.get(f"{base}/items/{uid}")
    assert panel(r.text)["是否有效"] == "已废止 （2026-12-01）"
    assert (
        "本文件已废止（2026-12-01起）"
        in BeautifulSoup(r.text, "html.parser").select_one("#validity").get_text()
    )
    # the list marks it
    soup = BeautifulSoup(httpx.get(f"{base}/items").text, "html.parser")
    row = next(tr for tr in soup.select("tbody tr") if tr.a["href"] == f"/items/{uid}")
    assert "已废止" in row.get_text()
    # withdrawn: 410 with a notice, and off the list
    service.withdraw(team.approver, uid, "依申请人要求更正后重新发布")
    r = httpx.get(f"{base}/items/{uid}")
    assert r.status_code == 410
    notice = BeautifulSoup(r.text, "html.parser").select_one("#withdrawn").get_text()
    assert "已撤回" in notice or "撤回" in notice
    assert "依申请人要求更正后重新发布" in notice
    hrefs = [
        a["href"] for a in BeautifulSoup(httpx.get(f"{base}/items").text, "html.parser").select("tbody a")
    ]
    assert hrefs == [f"/items/{other}"]


def test_list_filters_by_type_and_pages(runtime: Runtime, base: str, service: Service, team: Team) -> None:
    uids = [
        release(service, team, policy(title=f"政策文件第{i}号", doc_number=None))[0]
        for i in range(PAGE_SIZE + 1)
    ]
    notice = release(service, team, sample("consult-2019-01"))[0]
    draft = service.create_item(team.editor, policy(title="尚未发布的草稿", doc_number=None))
    page1 = httpx.get(f"{base}/items", params={"type": "policy"})
    assert page1.status_code == 200
    soup = BeautifulSoup(page1.text, "html.parser")
    listed = [a["href"] for a in soup.select("tbody a")]
    assert len(listed) == PAGE_SIZE and f"/items/{notice}" not in listed
    assert listed[0] == f"/items/{uids[-1]}"  # newest first
    assert "共 21 条" in page1.text
    assert (
        soup.select_one('head link[type="application/rss+xml"][href$="/feeds/type/policy.rss"]') is not None
    )
    page2 = BeautifulSoup(
        httpx.get(f"{base}/items", params={"type": "policy", "page": 2}).text, "html.parser"
    )
    assert [a["href"] for a in page2.select("tbody a")] == [f"/items/{uids[0]}"]
    everything = httpx.get(f"{base}/items").text
    assert f"/items/{notice}" in everything and "尚未发布的草稿" not in everything
    # drafts, unknown uids and unknown types are 404 pages, not errors
    for path in (
        f"/items/{draft.uid}",
        "/items/0000000000000000000000000z",
        "/items/x'--",
        "/items?type=nosuch",
    ):
        r = httpx.get(base + path)
        assert r.status_code == 404, path
        assert "未找到" in r.text and r.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{base}/items", params={"page": "abc"}).status_code == 200


def test_subscription_page_lists_every_feed(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    empty = httpx.get(f"{base}/feeds")
    assert empty.status_code == 200 and "暂无订阅源" in empty.text
    (uid,) = release(service, team, policy())
    deliver_rss(runtime, uid)
    soup = BeautifulSoup(httpx.get(f"{base}/feeds").text, "html.parser")
    links = [a["href"] for a in soup.select("#feed-list a")]
    public = base
    assert f"{public}/feeds/all.rss" in links and f"{public}/feeds/type/policy.atom" in links
    assert any(re.search(r"/feeds/subject/s[0-9a-f]{12}\.rss$", h) for h in links)
    assert "财政 / 预算" in soup.get_text()


def test_rss_deliveries_go_through_the_ledger(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    # given a policy approved for the rss channel only
    rt_settings = runtime.settings
    assert "rss" in rt_settings.routed_channels("policy")
    (uid,) = release(service, team, policy())

    def run_rss() -> dict:
        (d,) = [d for d in service.deliveries(uid) if d["channel"] == "rss" and d["state"] == "queued"]
        assert runtime.engine.process(d["id"]) == "delivered"
        return next(x for x in service.deliveries(uid) if x["id"] == d["id"])

    # when the engine processes its rss delivery, then the ledger records it and the feed has it
    done = run_rss()
    assert done["external_id"] == done["url"] == f"{rt_settings.public_base_url}/items/{uid}"
    feed = httpx.get(f"{base}/feeds/type/policy.atom").text
    assert "关于进一步规范财政资金管理的通知" in feed
    # abolition and withdrawal travel the same way
    service.abolish(team.approver, uid, on=date(2026, 12, 1))
    run_rss()
    assert "【已废止】关于进一步规范财政资金管理的通知" in httpx.get(f"{base}/feeds/all.atom").text
    service.withdraw(team.approver, uid, "错误发布")
    run_rss()
    assert "关于进一步规范财政资金管理的通知" not in httpx.get(f"{base}/feeds/all.atom").text


def test_an_interpretation_of_an_abolished_policy_says_so_and_its_links_are_marked(
    runtime: Runtime, base: str, service: Service, team: Team
) -> None:
    pol_uid, int_uid = release(service, team, sample("policy-2019-plan"), sample("interp-2019-plan"))
    before = BeautifulSoup(httpx.get(f"{base}/items/{int_uid}").text, "html.parser")
    assert before.select_one("#policy-validity") is None
    assert before.select_one("#policy .badge") is None

    service.abolish(team.approver, pol_uid, on=date(2026, 12, 1))

    # the interpretation itself is unchanged, but its page says the policy it explains is abolished
    soup = BeautifulSoup(httpx.get(f"{base}/items/{int_uid}").text, "html.parser")
    notice = soup.select_one("#policy-validity")
    assert notice is not None and "已废止" in notice.get_text() and "2026-12-01" in notice.get_text()
    assert notice.a["href"] == f"/items/{pol_uid}"
    assert soup.select_one("#policy .badge").get_text() == "已废止"
    assert panel(str(soup))["是否有效"].startswith("有效")
    # and the policy's own page links its (still valid) interpretation without a mark
    pol = BeautifulSoup(httpx.get(f"{base}/items/{pol_uid}").text, "html.parser")
    assert pol.select_one("#interpretations a")["href"] == f"/items/{int_uid}"
    assert pol.select_one("#interpretations .badge") is None
