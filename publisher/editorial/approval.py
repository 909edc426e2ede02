"""What an approval will do, shown before the approver clicks: every item the approval
releases (the item and the rest of its release group awaiting approval), the channels each
goes to, the items it abolishes, the state of those channels (paused, breaker open,
failing) and each channel's own pre-flight problems, which the approver either has fixed or
accepts by leaving that channel out (`exclude`). Reads only; the approval itself is
`Service.approve`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from publisher.domain.errors import NotFoundError
from publisher.domain.item import ItemState
from publisher.editorial.checks.problem import Problem
from publisher.editorial.checks.service import CheckService
from publisher.editorial.readmodels import group_members
from publisher.editorial.service import Service
from publisher.editorial.workflow import channel_of
from publisher.settings import Settings


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

    @property
    def ready(self) -> bool:
        return all(m.state == ItemState.AWAITING_APPROVAL for m in self.members)


def _abolishes(service: Service, refs: list[str]) -> list[dict[str, str]]:
    out = []
    for ref in refs:
        try:
            target = service.item_detail(service.uid_of(ref))
            out.append(
                {
                    "uid": target["uid"],
                    "title": target["title"],
                    "validity": target["validity"],
                    "doc_number": target["doc_number"] or "",
                    "index_number": target["index_number"] or "",
                }
            )
        except NotFoundError:
            out.append({"uid": "", "title": ref, "validity": "", "doc_number": "", "index_number": ""})
    return out


def _preflight(checks: CheckService, members: list[Member], channels: list[str]) -> dict[str, list[Problem]]:
    """Each channel's own problems, by the rule the approval applies (`workflow.channel_of`)."""
    found: dict[str, list[Problem]] = {}
    for m in members:
        for p in checks.item_report(m.uid)[1].problems:
            channel = channel_of(p.field, channels) if p.source == "channel" else None
            if channel is not None:  # named by its item: a release group has several
                found.setdefault(channel, []).append(replace(p, item_uid=m.uid, item_title=m.title))
    return found


def approval_plan(service: Service, settings: Settings, uid: str, checks: CheckService | None = None) -> Plan:
    item = service.item_detail(uid)
    rows = [item]
    if item["release_group"]:
        rows += [m for m in group_members(service, item["release_group"]) if m["uid"] != uid]
    members = []
    for row in rows:
        detail = row if "content" in row else service.item_detail(row["uid"])
        if detail["uid"] != uid and detail["state"] != ItemState.AWAITING_APPROVAL:
            continue  # released already, or not ready: this approval does not carry it
        members.append(
            Member(
                uid=detail["uid"],
                title=detail["title"],
                type=detail["type"],
                state=detail["state"],
                channels=settings.routed_channels(detail["type"]),
                publish_at=detail["publish_at"],
                abolishes=_abolishes(service, list(detail["content"].get("abolishes") or [])),
            )
        )
    channels = sorted({c for m in members for c in m.channels})
    return Plan(
        item=item,
        group=item["release_group"],
        members=members,
        channels=channels,
        etag=item["approval_etag"],
        preflight=_preflight(checks, members, channels) if checks is not None else {},
    )


__all__ = ["Member", "Plan", "approval_plan"]
