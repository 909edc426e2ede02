"""What an approval will do, shown before the approver clicks: every item the approval
releases (the item and the rest of its release group awaiting approval), the channels each
goes to, the items it abolishes, the state of those channels (paused, breaker open,
failing) and each channel's own pre-flight problems, which the approver either has fixed or
accepts by leaving that channel out (`exclude`). Reads only; the approval itself is
`Service.approve`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.domain.item import ItemState
from publisher.editorial.checks.engine import Report
from publisher.editorial.checks.problem import Problem
from publisher.editorial.checks.service import CheckService
from publisher.editorial.service import Service
from publisher.editorial.workflow import abolish_targets, channel_of, get_item
from publisher.settings import Settings
from publisher.store.models import Item


@dataclass(frozen=True)
class Member:
    uid: str
    title: str
    type: str
    state: str
    channels: list[str]
    publish_at: str | None
    # uid, title, validity, 文号, 索取号 (or the ref not found)
    abolishes: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    item: dict[str, Any]
    group: str | None
    members: list[Member]
    channels: list[str]  # every channel the approval sends to
    etag: str = ""  # what the approver is shown, as a digest; the confirm form posts it back
    # channel -> its own pre-flight problems over every member: each refuses the approval
    # unless the approver leaves that channel out
    preflight: dict[str, list[Problem]] = field(default_factory=dict)
    # the one problem list (content checks and channels) over every member, members named:
    # what the item page shows, so the approver sees what would refuse the approval
    checks: Report | None = None

    @property
    def ready(self) -> bool:
        return all(m.state == ItemState.AWAITING_APPROVAL for m in self.members)


def _abolishes(session: Session, item: Item) -> list[dict[str, str]]:
    """The items `item` abolishes (its content names them by uid), as the page shows them; one
    no longer found is shown by what the content names."""
    found = {t["uid"]: t for t in abolish_targets(session, item)}
    out = []
    for ref in item.content.get("abolishes") or []:
        target = found.get(ref)
        if target is None:
            out.append({"uid": "", "title": ref, "validity": "", "doc_number": "", "index_number": ""})
            continue
        out.append(
            {
                "uid": target["uid"],
                "title": target["title"],
                "validity": target["validity"],
                "doc_number": target["doc_number"] or "",
                "index_number": target["index_number"] or "",
            }
        )
    return out


def _preflight(
    checks: CheckService, session: Session, members: list[tuple[Member, Item]], channels: list[str]
) -> tuple[dict[str, list[Problem]], Report]:
    """Each channel's own problems, by the rule the approval applies (`workflow.channel_of`),
    and every member's whole list as one report (cached link results only: the approval
    itself probes the links)."""
    found: dict[str, list[Problem]] = {}
    combined = Report([])
    for m, row in members:
        report = checks.report_of(session, row)
        combined.versions = report.versions
        combined.links_checked += report.links_checked
        combined.links_unchecked += report.links_unchecked
        for p in report.problems:
            named = replace(p, item_uid=m.uid, item_title=m.title)  # a release group has several
            combined.problems.append(named)
            channel = channel_of(p.field, channels) if p.source == "channel" else None
            if channel is not None:
                found.setdefault(channel, []).append(named)
    return found, combined


def approval_plan(service: Service, settings: Settings, uid: str, checks: CheckService | None = None) -> Plan:
    """Read in one session, each member once: its row serves the detail, the abolished items
    and the checks' report (before, the item was read for its detail and again, in a session
    of its own, for its checks; each abolished item twice more)."""
    with service.db.reader() as s:
        row = get_item(s, uid)
        item = service.detail_of(s, row)
        rows = [row]
        if row.release_group:
            rows += [
                m
                for m in s.execute(
                    select(Item)
                    .where(Item.release_group == row.release_group, Item.uid != uid)
                    .order_by(Item.id)
                ).scalars()
                # released already, or not ready: this approval does not carry it
                if m.state == ItemState.AWAITING_APPROVAL
            ]
        members = [
            (
                Member(
                    uid=m.uid,
                    title=m.title,
                    type=m.type,
                    state=m.state,
                    channels=settings.routed_channels(m.type),
                    publish_at=m.publish_at.isoformat() if m.publish_at else None,
                    abolishes=_abolishes(s, m),
                ),
                m,
            )
            for m in rows
        ]
        channels = sorted({c for m, _ in members for c in m.channels})
        preflight, report = _preflight(checks, s, members, channels) if checks is not None else ({}, None)
    return Plan(
        item=item,
        group=item["release_group"],
        members=[m for m, _ in members],
        channels=channels,
        etag=item["approval_etag"],
        preflight=preflight,
        checks=report,
    )


__all__ = ["Member", "Plan", "approval_plan"]
