"""The alerted kinds: what each means to ops, whether it is a condition that fires until it
clears (and then gets a resolved message) or news told once, and what inhibits it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # Chinese first, then English
    # a condition fires until it clears (resolved message, repeat_interval); news is told once
    condition: bool
    # whether more events of a group already told are worth another message (group_interval)
    news_renotifies: bool = True
    # firing kinds of the same channel that make this one redundant (Alertmanager's inhibit rules)
    inhibited_by: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "delivery.failed",
            "投递最终失败 / deliveries failed for good",
            condition=True,
            inhibited_by=("breaker.open", "channel.paused", "channel.credentials_rejected"),
        ),
        # a breaker that re-opens after a failed probe is the same outage: no new message
        Kind("breaker.open", "渠道熔断 / circuit breaker open", condition=True, news_renotifies=False),
        Kind(
            "channel.paused",
            "渠道已暂停 / channel paused",
            condition=True,
            news_renotifies=False,
            inhibited_by=("channel.credentials_rejected",),
        ),
        Kind(
            "channel.credentials_rejected",
            "渠道凭据被拒绝 / channel credentials rejected",
            condition=True,
            news_renotifies=False,
        ),
        Kind("login.burst", "登录失败激增（疑似口令猜测）/ a burst of failed logins", condition=False),
        Kind("item.flagged", "渠道标记异常 / a channel flagged a live copy", condition=False),
        # post-publication inspection found a live copy changed, gone or with a dead link;
        # news (one record per difference), grouped per channel by the alert clock
        Kind(
            "inspection.drift",
            "在线副本偏差 / a live copy drifted from the ledger",
            condition=False,
            inhibited_by=("breaker.open", "channel.paused", "channel.credentials_rejected"),
        ),
        Kind("deadline.at_risk", "公开时限临近 / disclosure deadline at risk", condition=False),
        Kind("deadline.overdue", "公开时限已超期 / disclosure deadline overdue", condition=False),
        Kind("inspection.at_risk", "栏目更新即将超期 / column update due soon", condition=False),
        # a column past its threshold is overdue, never "due soon" (as deadline.overdue)
        Kind("inspection.overdue", "栏目更新已超期 / column update overdue", condition=False),
        Kind(
            "consultation.closed",
            "意见征集已截止，待发布反馈 / consultation closed, feedback due",
            condition=False,
        ),
    )
}


def label(kind: str) -> str:
    found = KINDS.get(kind)
    return found.label if found else kind


def short(kind: str) -> str:
    """The Chinese half of the label (titles, subjects)."""
    return label(kind).split(" / ")[0]
