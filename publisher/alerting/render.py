"""The message a group's notification carries: a Chinese text (English after it), and the same
facts as JSON for a webhook receiver — counts, first and last error, since when, held and
failed deliveries, the affected items by title, the link and the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.alerting.kinds import KINDS, label, short
from publisher.domain.clock import local

STATE_TAGS = {"firing": "告警", "repeat": "仍在告警", "resolved": "已恢复"}


@dataclass(frozen=True)
class Context:
    """What the store says about the group's channel when the message is written."""

    failed: int = 0
    held: int = 0
    items: tuple[tuple[str, str], ...] = ()  # (uid, title) of the affected items
    link: str = ""


def _when(at: datetime | None) -> str:
    return "" if at is None else local(at).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"


def fixes(kind: str, channel: str) -> list[str]:
    """The commands that clear the condition (publisher/cli/), in the order ops would run them."""
    ch = channel or "<渠道>"
    if kind == "delivery.failed":
        return [f"publisher deliveries --state failed --channel {ch}", f"publisher replay-failed {ch}"]
    if kind == "breaker.open":
        return ["publisher channel list", f"publisher retry-now {ch}", f"publisher channel resume {ch}"]
    if kind in ("channel.paused", "channel.credentials_rejected"):
        return ["publisher config check --live", f"publisher channel resume {ch}"]
    if kind == "item.flagged":
        return [f"publisher reconcile --channel {ch}"]
    if kind == "inspection.drift":
        return [
            f"publisher drifts --channel {ch}",
            "publisher drift repush <ID>",
            "publisher drift accept <ID> --reason <原因>",
        ]
    if kind.startswith("deadline."):
        return ["publisher compliance deadlines"]
    if kind.startswith("inspection."):  # at_risk, overdue: publish something new in the column
        return ["publisher compliance inspection"]
    if kind == "consultation.closed":  # the adoption report to draft and publish
        return ["publisher compliance reminders"]
    if kind == "login.burst":  # who was throttled, then lock the account if it is being guessed
        return ["publisher audit list --limit 50", "publisher user disable <用户名>"]
    return []


def message(
    *,
    kind: str,
    channel: str,
    state: str,  # firing | repeat | resolved
    firing_since: datetime,
    events: int,
    new_events: int,
    first_error: str | None,
    last_error: str | None,
    samples: list[dict[str, Any]],
    context: Context,
    resolved_at: datetime | None = None,
    resolved_reason: str | None = None,
    max_details: int = 5,
) -> dict[str, Any]:
    tag = STATE_TAGS[state]
    where = f" · {channel}" if channel else ""
    count = f" · {events} 条" if state != "resolved" else ""
    title = f"[发布平台{tag}] {short(kind)}{where}{count}"
    lines = [title, "", label(kind)]
    if channel:
        lines.append(f"渠道 / channel: {channel}")
    lines.append(f"开始于 / firing since: {_when(firing_since)}")
    if state == "resolved":
        lines.append(f"恢复于 / resolved at: {_when(resolved_at)}")
        if resolved_reason:
            lines.append(f"原因 / why: {resolved_reason}")
    new = f"（本次新增 {new_events} / {new_events} new）" if state != "resolved" else ""
    lines.append(f"事件数 / events: {events}{new}")
    if first_error:
        lines.append(f"首个错误 / first error: {first_error}")
    if last_error and last_error != first_error:
        lines.append(f"最近错误 / last error: {last_error}")
    if channel and (context.failed or context.held):
        lines.append(f"当前失败 / failed now: {context.failed}；暂缓 / held: {context.held}")
    details = [_detail(kind, d) for d in samples[-max_details:]]
    # deliveries name their items; a deadline, column or consultation says more in its own detail
    if context.items and kind in ("delivery.failed", "item.flagged"):
        lines.append("涉及信息 / affected items:")
        lines += [f"  - 《{title_}》 {uid}" for uid, title_ in context.items[:max_details]]
        if len(context.items) > max_details:
            lines.append(f"  … 另有 {len(context.items) - max_details} 条 / more")
    elif details:
        lines.append("最近事件 / latest:")
        lines += [f"  - {d}" for d in details]
    if context.link:
        lines.append(f"查看 / open: {context.link}")
    commands = fixes(kind, channel) if state != "resolved" else []
    if commands:
        lines.append("处理 / fix: " + "；".join(commands))
    return {
        "source": "publisher",
        "status": "resolved" if state == "resolved" else "firing",
        "repeat": state == "repeat",
        "kind": kind,
        "channel": channel,
        "labels": {"alertname": kind, "channel": channel},
        "condition": KINDS[kind].condition if kind in KINDS else False,
        "title": title,
        "firing_since": firing_since.isoformat(),
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
        "resolved_reason": resolved_reason,
        "events": events,
        "new_events": new_events,
        "first_error": first_error,
        "last_error": last_error,
        "failed": context.failed,
        "held": context.held,
        "items": [{"uid": u, "title": t} for u, t in context.items],
        "samples": samples[-max_details:],
        "link": context.link,
        "fix": commands,
        "text": "\n".join(lines),
    }


def _detail(kind: str, d: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, name in (
        ("title", "信息"),
        ("uid", "uid"),
        ("status_label", "状态"),
        ("due_on", "期限"),
        ("working_days_left", "剩余工作日"),
        ("label", "栏目"),
        ("age_days", "天数"),
        ("threshold", "阈值"),
        ("closes", "截止"),
        ("report_due_on", "反馈期限"),
        ("flag", "标记"),
        ("url", "链接"),
        ("reason", "原因"),
        ("error", "错误"),
    ):
        if d.get(key) not in (None, ""):
            parts.append(f"{name} {d[key]}")
    return " · ".join(parts) or kind
