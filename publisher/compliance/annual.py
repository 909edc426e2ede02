"""The year's figures for the annual disclosure report (政府信息公开工作年度报告).

Years are calendar years in Asia/Shanghai. Each figure is one row (section, metric, value),
so the page, the CSV and the CLI print the same list.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.compliance import applications, consultations
from publisher.compliance.catalogue import Filters, catalogue_rows
from publisher.compliance.fees import APPLIED, fee_history
from publisher.compliance.tabular import Table
from publisher.domain.clock import SHANGHAI, as_utc, local
from publisher.domain.item import ITEM_TYPE_LABELS, SITE_PAGE_TYPES, DeliveryState, ItemType, Validity
from publisher.store.models import Application, Delivery, Item, ItemLink, ItemVersion


@dataclass(frozen=True)
class Figure:
    section: str
    metric: str
    key: str
    value: int


def _bounds(year: int) -> tuple[datetime, datetime]:
    return (as_utc(datetime(year, 1, 1, tzinfo=SHANGHAI)), as_utc(datetime(year + 1, 1, 1, tzinfo=SHANGHAI)))


def annual_figures(session: Session, year: int, now: datetime, public_base_url: str = "") -> list[Figure]:
    start, end = _bounds(year)
    out: list[Figure] = []

    def add(section: str, metric: str, key: str, value: int) -> None:
        out.append(Figure(section, metric, key, value))

    # 1. items published (first publication in the year), by type
    published = Counter(
        dict(
            session.execute(
                select(Item.type, func.count())
                .where(Item.published_at >= start, Item.published_at < end)
                .group_by(Item.type)
            )
            .tuples()
            .all()
        )
    )
    for t in (t for t in ItemType if t not in SITE_PAGE_TYPES):
        add(
            "主动公开 / published",
            f"{ITEM_TYPE_LABELS[t]}",
            f"published.{t.value}",
            published.get(t.value, 0),
        )
    add("主动公开 / published", "合计", "published.total", sum(published.values()))
    withdrawn = session.execute(
        select(func.count()).select_from(Item).where(Item.withdrawn_at >= start, Item.withdrawn_at < end)
    ).scalar_one()
    add("主动公开 / published", "撤回", "withdrawn", withdrawn)

    # 2. the active-disclosure catalogue
    rows = catalogue_rows(session, now, public_base_url, Filters(year=year))
    add("主动公开目录 / catalogue", "本年新增目录条目", "catalogue.entries", len(rows))
    add(
        "主动公开目录 / catalogue",
        "其中现行有效",
        "catalogue.valid",
        sum(1 for r in rows if r["validity"] == "有效"),
    )

    # 3. documents abolished, expired or amended in the year, and revisions published
    changed = Counter(
        dict(
            session.execute(
                select(Item.validity, func.count())
                .where(
                    Item.validity_changed_on >= f"{year:04d}-01-01",
                    Item.validity_changed_on <= f"{year:04d}-12-31",
                )
                .group_by(Item.validity)
            )
            .tuples()
            .all()
        )
    )
    for v, key in (
        (Validity.ABOLISHED, "abolished"),
        (Validity.EXPIRED, "expired"),
        (Validity.AMENDED, "amended"),
    ):
        add("文件清理 / validity", v.value, f"validity.{key}", changed.get(v.value, 0))
    revised = session.execute(
        select(func.count(func.distinct(ItemVersion.item_id))).where(
            ItemVersion.reason == "update", ItemVersion.created_at >= start, ItemVersion.created_at < end
        )
    ).scalar_one()
    add("文件清理 / validity", "内容修订后重新发布", "revised", revised)

    # 4. policies and interpretations (政策解读)
    policies = (
        session.execute(
            select(Item.uid).where(
                Item.type == ItemType.POLICY, Item.published_at >= start, Item.published_at < end
            )
        )
        .scalars()
        .all()
    )
    interpreted = (
        set(
            session.execute(
                select(Item.interprets_uid).where(
                    Item.type == ItemType.INTERPRETATION,
                    Item.published_at.is_not(None),
                    Item.interprets_uid.in_(policies),
                )
            ).scalars()
        )
        if policies
        else set()
    )
    add("政策解读 / interpretations", "本年发布政策文件", "policies", len(policies))
    add("政策解读 / interpretations", "其中有解读的", "policies.interpreted", len(interpreted))

    # 5. consultations and adoption reports
    reports = consultations.report_uids(session)
    cons = (
        session.execute(
            select(Item.uid).where(
                Item.type == ItemType.CONSULTATION, Item.published_at >= start, Item.published_at < end
            )
        )
        .scalars()
        .all()
    )
    add("征求意见 / consultations", "征求意见", "consultations", sum(1 for u in cons if u not in reports))
    add(
        "征求意见 / consultations",
        "采纳情况说明",
        "consultations.reports",
        sum(1 for u in cons if u in reports),
    )

    # 6. applications (依申请公开)
    received = session.execute(
        select(func.count())
        .select_from(Application)
        .where(
            Application.received_on >= datetime(year, 1, 1).date(),
            Application.received_on <= datetime(year, 12, 31).date(),
        )
    ).scalar_one()
    answered = session.execute(
        select(func.count())
        .select_from(Application)
        .where(
            Application.answered_on >= datetime(year, 1, 1).date(),
            Application.answered_on <= datetime(year, 12, 31).date(),
        )
    ).scalar_one()
    converted = session.execute(
        select(func.count())
        .select_from(ItemLink)
        .where(ItemLink.kind == applications.LINK, ItemLink.created_at >= start, ItemLink.created_at < end)
    ).scalar_one()
    add("依申请公开 / applications", "收到申请", "applications.received", received)
    add("依申请公开 / applications", "答复申请", "applications.answered", answered)
    add("依申请公开 / applications", "转为主动公开", "applications.converted", converted)

    # 7. fee catalogue changes effective in the year
    fee_rows = [r for r in fee_history(session, now) if r.status == APPLIED and r.effective_date.year == year]
    by_action = Counter(r.action for r in fee_rows)
    for action, key in (("新增", "added"), ("取消", "cancelled"), ("调整", "adjusted")):
        add("收费目录 / fee catalogues", action, f"fees.{key}", by_action.get(action, 0))

    # 8. deliveries per channel (confirmed in the year)
    delivered = (
        session.execute(
            select(Delivery.channel, Delivery.operation, func.count())
            .where(
                Delivery.state == DeliveryState.DELIVERED,
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
            )
            .group_by(Delivery.channel, Delivery.operation)
            .order_by(Delivery.channel, Delivery.operation)
        )
        .tuples()
        .all()
    )
    per_channel: Counter[str] = Counter()
    for channel, operation, n in delivered:
        per_channel[channel] += n
        add("渠道投递 / deliveries", f"{channel} · {operation}", f"deliveries.{channel}.{operation}", n)
    for channel, n in sorted(per_channel.items()):
        add("渠道投递 / deliveries", f"{channel} 合计", f"deliveries.{channel}", n)
    return out


COLUMNS = (("section", "类别"), ("metric", "指标"), ("value", "数值"), ("key", "键"))


def figures_table(year: int, figures: list[Figure]) -> Table:
    return Table(
        title=f"{year}年政府信息公开数据",
        columns=COLUMNS,
        rows=[{"section": f.section, "metric": f.metric, "value": f.value, "key": f.key} for f in figures],
    )


def as_dict(figures: list[Figure]) -> dict[str, Any]:
    return {f.key: f.value for f in figures}


def local_year(now: datetime) -> int:
    return local(now).year
