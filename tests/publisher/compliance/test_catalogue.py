"""The active-disclosure catalogue over real HTTP: generated from what is published, filtered,
exported as CSV, XLSX and JSON that round-trip, abolished items marked, withdrawn ones absent."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event

from publisher.compliance.catalogue import COLUMNS, Filters
from publisher.compliance.tabular import FORMATS, read_xlsx
from publisher.domain.clock import local_today
from publisher.editorial.service import Service
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.publisher.compliance.support import draft, release
from tests.publisher.compliance.web_support import base, runtime  # noqa: F401
from tests.samples import policy, sample

HEADERS = [h for _, h in COLUMNS]


def published(service: Service, team: Team) -> dict[str, str]:
    uids = {
        "policy": release(service, team, policy(ref="p1", keywords=["财政资金", "预算"])),
        "notice": release(service, team, sample("notice-abolish", abolishes=[])),
        "gone": release(service, team, policy(ref="p2", doc_number="沪财预[2026]13号", title="撤回的文件")),
        "on_request": release(
            service,
            team,
            policy(ref="p3", doc_number=None, title="依申请公开的文件", disclosure="依申请公开"),
        ),
        "draft": draft(service, team, policy(ref="p4", doc_number=None, title="草稿")),
    }
    service.abolish(team.approver, uids["policy"], on=local_today())
    service.withdraw(team.approver, uids["gone"], "错误发布")
    return uids


def test_catalogue_exports_round_trip_and_agree(service: Service, team: Team, base: str) -> None:  # noqa: F811
    uids = published(service, team)
    with httpx.Client(base_url=base) as client:
        doc = client.get("/catalogue.json").json()
        xlsx = client.get("/catalogue.xlsx")
        text = client.get("/catalogue.csv")
    # only the released, actively disclosed, not withdrawn items
    assert {r["uid"] for r in doc["rows"]} == {uids["policy"], uids["notice"]}
    assert [c["label"] for c in doc["columns"]] == HEADERS
    by_uid = {r["uid"]: r for r in doc["rows"]}
    p = by_uid[uids["policy"]]
    assert (p["validity"], p["validity_changed_on"]) == ("已废止", local_today().isoformat())
    assert (
        p["index_number"].startswith(f"AB1900010-{local_today().year}-")
        and p["doc_number"] == "沪财预〔2026〕12号"
    )
    assert (
        p["subject"] == "财政\\预算" and p["issuing_body"] == "上海市财政局" and p["disclosure"] == "主动公开"
    )
    assert p["keywords"] == ["财政资金", "预算"]

    # XLSX: opens in openpyxl, header then the same rows as the JSON, cell for cell
    assert xlsx.headers["content-type"] == FORMATS["xlsx"]
    assert "attachment" in xlsx.headers["content-disposition"]
    sheet = read_xlsx(xlsx.content)
    assert sheet[0] == HEADERS
    expected = [
        [("；".join(r[k]) if isinstance(r[k], list) else r[k]) for k, _ in COLUMNS] for r in doc["rows"]
    ]
    assert sheet[1:] == expected
    # CSV: UTF-8 with BOM, the same table
    assert text.content.startswith("\ufeff".encode())
    assert list(csv.reader(io.StringIO(text.content.decode("utf-8-sig")))) == [HEADERS, *expected]


def test_filters_by_type_subject_and_year(service: Service, team: Team, base: str) -> None:  # noqa: F811
    uids = published(service, team)
    with httpx.Client(base_url=base) as client:

        def rows(**params: str) -> set[str]:
            return {r["uid"] for r in client.get("/catalogue.json", params=params).json()["rows"]}

        assert rows(type="notice") == {uids["notice"]}
        assert rows(subject="财政") == {uids["policy"]}  # a parent class matches its children
        assert rows(subject="财政\\预算") == {uids["policy"]}
        assert rows(subject="财政\\预") == set()
        assert rows(year=str(local_today().year)) == {uids["policy"], uids["notice"]}
        assert rows(year="2019") == set()
        assert client.get("/catalogue.json", params={"type": "nosuch"}).status_code == 422
        assert client.get("/catalogue.json", params={"year": "19"}).status_code == 422
        filtered = read_xlsx(client.get("/catalogue.xlsx", params={"type": "notice"}).content)
        assert len(filtered) == 2


def test_public_page_marks_abolished_and_omits_withdrawn(service: Service, team: Team, base: str) -> None:  # noqa: F811
    uids = published(service, team)
    page = httpx.get(f"{base}/catalogue")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    rows = {tr["data-uid"]: tr for tr in soup.select("#catalogue tbody tr")}
    assert set(rows) == {uids["policy"], uids["notice"]}
    assert "已废止" in rows[uids["policy"]].get_text()
    assert "撤回的文件" not in page.text and "草稿" not in page.text
    # the export links carry the filters
    year = local_today().year
    page = httpx.get(f"{base}/catalogue", params={"type": "policy", "year": str(year)})
    links = [
        a["href"] for a in BeautifulSoup(page.text, "html.parser").select("a") if "catalogue." in a["href"]
    ]
    assert f"/catalogue.xlsx?type=policy&year={year}" in links
    assert (
        json.loads(httpx.get(f"{base}/catalogue.json", params={"type": "policy"}).text)["filters"]["type"]
        == "policy"
    )


def test_the_page_reads_one_page_and_the_pages_add_up_to_the_export(
    service: Service,
    team: Team,
    runtime: Runtime,  # noqa: F811
    base: str,  # noqa: F811
) -> None:
    subjects = ["财政\\预算", "财政\\收费", "财政\\预算", "政府采购", "财政\\预算"]
    for i, subject in enumerate(subjects):
        release(service, team, policy(ref=f"pg{i}", doc_number=None, title=f"第{i}份文件", subject=subject))
    compliance = runtime.compliance
    for filters in (
        Filters(),
        Filters(subject="财政\\预算"),
        Filters(subject="财政"),
        Filters(type="notice"),
    ):
        everything = compliance.catalogue(filters)
        first, found_subjects, years = compliance.catalogue_page(filters, 1, page_size=2)
        assert first.total >= len(everything) and first.pages >= 1
        seen: list[str] = []
        for number in range(1, first.pages + 2):  # one past the end clamps to the last page
            page, _, _ = compliance.catalogue_page(filters, number, page_size=2)
            assert len(page.rows) <= 2
            if number <= first.pages:
                seen += [r["uid"] for r in page.rows]
            else:
                assert page.page == first.pages
        assert len(seen) == len(set(seen))  # no row on two pages
        assert sorted(seen) == sorted(r["uid"] for r in everything), filters
    assert found_subjects == ["政府采购", "财政\\收费", "财政\\预算"]
    assert years == [str(local_today().year)]
    with httpx.Client(base_url=base) as client:
        # the page says how many and where it is; a bad page number is page 1, never an error
        for query in ("", "?page=abc", "?page=%C2%B2", "?page=99999"):
            r = client.get(f"/catalogue{query}")
            assert r.status_code == 200
            assert "共 5 条" in r.text
        page = BeautifulSoup(client.get("/catalogue?subject=财政").text, "html.parser")
        assert len(page.select("#catalogue tbody tr")) == 4
        options = [o.get("value") for o in page.select("select[name=subject] option")]
        assert options == ["", "政府采购", "财政\\收费", "财政\\预算"]


def _spread_over_days(runtime: Runtime, uids: list[str]) -> None:  # noqa: F811
    """Give the items publication times a day apart, newest first in `uids` order (the item's
    time and its released content's, as a release on that day would have left them)."""
    from datetime import timedelta

    from sqlalchemy import select

    from publisher.domain.clock import utcnow
    from publisher.store.models import Item, ItemVersion

    with runtime.db.transaction() as s:
        for n, uid in enumerate(uids):
            at = utcnow() - timedelta(days=n, hours=1)
            item = s.execute(select(Item).where(Item.uid == uid)).scalar_one()
            item.published_at = at
            for version in s.execute(select(ItemVersion).where(ItemVersion.item_id == item.id)).scalars():
                version.content = {**version.content, "published_at": at.isoformat()}


def test_a_large_export_streams_a_batch_at_a_time(
    service: Service,
    team: Team,
    runtime: Runtime,  # noqa: F811
    base: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exports read the catalogue a batch of items at a time as the file is written out
    (the whole list built in memory took minutes and grew with the archive): the first row comes
    after one batch is read, the rows stay in the catalogue's order across batches, and the
    HTTP answer is streamed (chunked, no Content-Length)."""
    import publisher.compliance.catalogue as catalogue

    uids = [
        release(service, team, policy(ref=f"s{i}", doc_number=None, title=f"流式第{i}份")) for i in range(7)
    ]
    _spread_over_days(runtime, uids)
    monkeypatch.setattr(catalogue, "EXPORT_BATCH", 3)
    batches: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT items.") and "ORDER BY items.published_at DESC" in statement:
            batches.append(statement)

    engine = runtime.db.read_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = runtime.compliance.catalogue_stream()
        first = next(rows)
        assert first["uid"] == uids[0] and len(batches) == 1  # one batch read, not the archive
        rest = list(rows)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(batches) == 3  # 3 + 3 + 1 items
    streamed = [first["uid"], *(r["uid"] for r in rest)]
    assert streamed == uids  # newest first, across the batches
    assert streamed == [r["uid"] for r in runtime.compliance.catalogue()]
    with httpx.Client(base_url=base) as client:
        for fmt in ("csv", "json", "xlsx"):
            r = client.get(f"/catalogue.{fmt}")
            assert r.status_code == 200 and "content-length" not in r.headers, fmt
            assert r.headers["transfer-encoding"] == "chunked"
        doc = client.get("/catalogue.json").json()
        assert [row["uid"] for row in doc["rows"]] == uids
        sheet = read_xlsx(client.get("/catalogue.xlsx").content)
        assert [row[HEADERS.index("标识")] for row in sheet[1:]] == uids
        lines = list(csv.reader(io.StringIO(client.get("/catalogue.csv").content.decode("utf-8-sig"))))
        assert [row[HEADERS.index("标识")] for row in lines[1:]] == uids
