"""`publisher alerts list|silence|unsilence|send`: what is firing, what was told, muting a
kind or channel for a while (audited), and running the alert clock now (cron deployments)."""

from __future__ import annotations

import re
from datetime import timedelta

import click

from publisher.cli.common import Cli, Fail, as_option, emit_json, json_option, pass_cli, table

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if m is None:
        raise Fail(f"时长格式应如 30m、2h、1d / --for takes e.g. 30m, 2h, 1d (got {text!r})")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


@click.group("alerts")
def alerts() -> None:
    """告警：正在告警、最近消息、静默 / alerts: firing, recent messages, silences."""


@alerts.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@pass_cli
def alerts_list(cli: Cli, limit: int, as_json: bool) -> None:
    """正在告警的分组、生效的静默与最近的告警消息 / firing groups, active silences, recent messages."""
    service = cli.runtime().alerts
    firing, silences, recent = service.firing(), service.silences(), service.recent(limit)
    if as_json:
        emit_json({"firing": firing, "silences": silences, "recent": recent})
        return
    click.echo(f"正在告警 / firing: {len(firing)}")
    table(
        ["类型", "渠道", "开始于", "事件数", "最近错误"],
        [
            [g["label"], g["channel"] or "-", g["firing_since"][:19], str(g["events"]), g["last_error"] or ""]
            for g in firing
        ],
    )
    click.echo(f"\n生效的静默 / active silences: {len(silences)}")
    table(
        ["编号", "类型", "渠道", "截止", "原因", "设置人"],
        [
            [str(x["id"]), x["kind"], x["channel"], x["ends_at"][:19], x["reason"], x["created_by"]]
            for x in silences
        ],
    )
    click.echo(f"\n最近消息 / recent messages: {len(recent)}")
    table(
        ["编号", "状态", "目标", "标题", "发送"],
        [[str(n["id"]), n["state"], n["target"], n["title"], n["status"]] for n in recent],
    )


@alerts.command("silence")
@click.option("--kind", default="*", show_default=True, help="告警类型，如 delivery.failed / alert kind")
@click.option("--channel", default="*", show_default=True, help="渠道，如 webhook.hooks / channel")
@click.option("--for", "duration", required=True, help="时长，如 30m、2h、1d / how long, e.g. 2h")
@click.option("--reason", required=True, help="原因（审计）/ why (audited)")
@as_option
@json_option
@pass_cli
def alerts_silence(
    cli: Cli, kind: str, channel: str, duration: str, reason: str, as_user: str | None, as_json: bool
) -> None:
    """静默某类告警或某渠道一段时间 / mute a kind and/or a channel for a while."""
    row = cli.runtime().alerts.silence(
        cli.actor(as_user), kind=kind, channel=channel, duration=parse_duration(duration), reason=reason
    )
    if as_json:
        emit_json(row)
        return
    click.echo(
        f"已静默 / silenced #{row['id']}: {row['kind']} @ {row['channel']} 至 / until {row['ends_at'][:19]}Z"
    )


@alerts.command("unsilence")
@click.argument("silence_id", type=click.IntRange(1))
@as_option
@pass_cli
def alerts_unsilence(cli: Cli, silence_id: int, as_user: str | None) -> None:
    """解除静默 / lift a silence."""
    cli.runtime().alerts.unsilence(cli.actor(as_user), silence_id)
    click.echo(f"已解除静默 / silence lifted: #{silence_id}")


@alerts.command("send")
@as_option
@pass_cli
def alerts_send(cli: Cli, as_user: str | None) -> None:
    """立即运行告警时钟：分组、决定并发送到期的告警 / run the alert clock now (no executor running)."""
    report = cli.runtime().alerts.send_now(cli.actor(as_user))
    click.echo(
        f"已归组 {report.folded} 条，新消息 {report.notified} 条，发送成功 {report.sent}，失败 {report.failed}"
        f" / folded {report.folded}, new messages {report.notified}, sent {report.sent}, failed {report.failed}"
    )
