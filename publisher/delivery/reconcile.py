"""Reconciliation: compare what every channel really holds (read from the channel's own
store through its adapter's `inventory()`) with what the ledger says it should hold.

For each channel and item, the ledger's expectation is the newest non-superseded delivery:
delivered → the channel must hold that version (live, same validity) or, for a withdrawal,
must not show it; not yet delivered → reported as pending, not as a mismatch. Anything the
channel shows that the ledger never delivered there is extra.

A channel whose store could not be read is "not checked", never consistent: its report says
why (`unreadable`: the read failed; `unlistable`: the channel keeps no store we can read, such
as a webhook), and the CLI gives it its own exit code (docs/cli.md).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select

from channels.base import ChannelError, Holding, Listing
from publisher.delivery.channelset import ChannelSet
from publisher.domain.item import DeliveryState, Operation
from publisher.store.db import Database
from publisher.store.models import Delivery, Item, ItemVersion

log = logging.getLogger(__name__)

# why a channel was not checked
NotChecked = Literal["unreadable", "unlistable"]


@dataclass(frozen=True)
class Finding:
    channel: str
    uid: str
    problem: str  # missing | stale | not_removed | duplicate | extra | pending
    detail: str


@dataclass
class ChannelReport:
    channel: str
    listed: bool = True
    error: str | None = None
    expected_live: int = 0
    held_live: int = 0
    findings: list[Finding] = field(default_factory=list)
    not_checked: NotChecked | None = None

    @property
    def checked(self) -> bool:
        return self.listed

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem != "pending"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "checked": self.checked,
            "not_checked": self.not_checked,
            "listed": self.listed,
            "error": self.error,
            "expected_live": self.expected_live,
            "held_live": self.held_live,
            "findings": [f.__dict__ for f in self.findings],
        }


@dataclass(frozen=True)
class Expectation:
    live: bool
    version: int
    validity: str | None
    delivered: bool
    state: str


def expectations(db: Database, channel: str) -> dict[str, Expectation]:
    """Per item uid, what `channel` should hold according to the ledger."""
    with db.reader() as s:
        # the version's validity only, never its content: at a city's scale decoding every
        # version's whole body made this read most of a reconcile (47 s for 200,000 items)
        rows = s.execute(
            select(
                Item.uid,
                Delivery.operation,
                Delivery.state,
                ItemVersion.number,
                ItemVersion.content["validity"].as_string(),
            )
            .join(Item, Item.id == Delivery.item_id)
            .join(ItemVersion, ItemVersion.id == Delivery.version_id)
            .where(Delivery.channel == channel, Delivery.state != DeliveryState.SUPERSEDED)
            .order_by(Delivery.id)
        ).all()
    out: dict[str, Expectation] = {}
    for uid, op, state, number, validity in rows:  # later deliveries override earlier ones
        out[uid] = Expectation(
            live=op != Operation.WITHDRAW,
            version=number,
            validity=None if op == Operation.WITHDRAW else validity,
            delivered=state == DeliveryState.DELIVERED,
            state=state,
        )
    return out


def _not_checked(report: ChannelReport, why: NotChecked, error: str) -> ChannelReport:
    report.listed, report.not_checked, report.error = False, why, error
    return report


def reconcile_channel(db: Database, channels: ChannelSet, channel: str) -> ChannelReport:
    report = ChannelReport(channel)
    try:
        adapter = channels.get(channel)
        # a lazy listing fails while being read: read it whole before judging anything
        held = list(adapter.inventory()) if isinstance(adapter, Listing) else None
    except ChannelError as exc:
        return _not_checked(report, "unreadable", exc.message)
    except Exception as exc:  # an answer the adapter could not make sense of is no answer
        log.exception("reconcile: reading channel %s failed", channel)
        return _not_checked(report, "unreadable", f"{type(exc).__name__}: {exc}"[:300])
    if held is None:
        return _not_checked(report, "unlistable", "该渠道无法列出其内容 / this channel cannot be listed")
    by_uid: dict[str, list[Holding]] = defaultdict(list)
    for h in held:
        by_uid[h.uid].append(h)
    expected = expectations(db, channel)
    report.expected_live = sum(1 for e in expected.values() if e.live and e.delivered)
    report.held_live = sum(1 for hs in by_uid.values() for h in hs if h.live)
    add = report.findings.append
    for uid, exp in expected.items():
        live = [h for h in by_uid.get(uid, []) if h.live]
        if not exp.delivered:
            add(
                Finding(channel, uid, "pending", f"最新投递状态 {exp.state} / latest delivery is {exp.state}")
            )
            continue
        if len(live) > 1:
            add(Finding(channel, uid, "duplicate", f"渠道中有 {len(live)} 份 / {len(live)} live copies"))
        if exp.live and not live:
            add(Finding(channel, uid, "missing", f"应有第 {exp.version} 版 / version {exp.version} expected"))
        elif exp.live:
            h = live[0]
            if h.version is not None and h.version != exp.version:
                add(
                    Finding(
                        channel,
                        uid,
                        "stale",
                        f"渠道为第 {h.version} 版，应为第 {exp.version} 版 / holds v{h.version}, expected v{exp.version}",
                    )
                )
            elif h.validity is not None and exp.validity is not None and h.validity != exp.validity:
                add(
                    Finding(
                        channel,
                        uid,
                        "stale",
                        f"有效性为 {h.validity}，应为 {exp.validity} / validity {h.validity}, expected {exp.validity}",
                    )
                )
        elif live:
            add(Finding(channel, uid, "not_removed", "已撤回但渠道仍在显示 / withdrawn but still shown"))
    for uid, hs in by_uid.items():
        if uid not in expected and any(h.live for h in hs):
            add(
                Finding(channel, uid, "extra", "渠道中有未经批准投递的内容 / shown but never delivered there")
            )
    return report


def reconcile(db: Database, channels: ChannelSet, names: list[str]) -> list[ChannelReport]:
    return [reconcile_channel(db, channels, name) for name in names]
