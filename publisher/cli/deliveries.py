"""Delivery operations (ops): `deliveries`, `replay`, `release`, `replay-failed`, `retry-now`,
`channel list|pause|resume` and `reconcile`, through publisher.delivery.service."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import click

from publisher.cli.common import (
    Cli,
    Fail,
    as_option,
    clip,
    emit_json,
    json_option,
    pass_cli,
    table,
)
from publisher.domain.errors import (
    NotFoundError,
    TransitionError,
)
from publisher.domain.item import DeliveryState


# -- deliveries (ops) -------------------------------------------------------------------------------
@click.command("deliveries")
@click.option("--state", type=click.Choice([s.value for s in DeliveryState]), help="状态 / state")
@click.option("--channel", help="渠道 / channel, e.g. cms or webhook.archive")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@pass_cli
def deliveries(cli: Cli, state: str | None, channel: str | None, limit: int, as_json: bool) -> None:
    """投递列表，如 --state failed / list deliveries, e.g. the failed queue."""
    total, rows = cli.runtime().deliveries.listing(state=state, channel=channel, limit=limit)
    if as_json:
        emit_json({"total": total, "deliveries": rows})
        return
    table(
        ["id", "渠道", "操作", "状态", "尝试", "信息", "最后错误"],
        [
            [
                str(d["id"]),
                d["channel"],
                d["operation"],
                d["state"],
                str(d["attempts"]),
                d["item"],
                clip(d["last_error"] or "", 40),
            ]
            for d in rows
        ],
    )
    click.echo(f"共 {total} 条 / {total} deliveries")


@click.command("replay")
@click.argument("delivery_id", type=click.IntRange(1))
@as_option
@pass_cli
def replay(cli: Cli, delivery_id: int, as_user: str | None) -> None:
    """重放一条失败的投递 / replay one failed delivery (the running service sends it)."""
    actor = cli.actor(as_user)
    try:
        cli.runtime().deliveries.replay(actor, delivery_id)
    except (NotFoundError, TransitionError) as exc:
        raise Fail(
            f"投递 {delivery_id} 不存在或不是失败状态 / delivery {delivery_id} is not a failed delivery"
        ) from exc
    click.echo(f"已重新排队 / queued again: {delivery_id}")


@click.command("release")
@click.argument("delivery_id", type=click.IntRange(1))
@as_option
@pass_cli
def release(cli: Cli, delivery_id: int, as_user: str | None) -> None:
    """放行审批时排除的投递（审批人；先重新预检）/ release a delivery excluded at approval
    (approver; the channel's pre-flight runs again and any problem left refuses it)."""
    actor = cli.actor(as_user)
    cli.runtime().deliveries.release_excluded(actor, delivery_id)
    click.echo(f"已放行 / released: {delivery_id}")


@click.command("replay-failed")
@click.argument("channel")
@click.option("--since", type=click.DateTime(), help="失败时间不早于（UTC）/ failed at or after (UTC)")
@click.option("--until", type=click.DateTime(), help="失败时间不晚于（UTC）/ failed at or before (UTC)")
@as_option
@pass_cli
def replay_failed(cli: Cli, channel: str, since: Any, until: Any, as_user: str | None) -> None:
    """重放某渠道在时间窗内的全部失败投递 / replay every failed delivery of a channel in a window."""
    actor = cli.actor(as_user)
    utc = [None if t is None else t.replace(tzinfo=UTC) for t in (since, until)]
    ids = cli.runtime().deliveries.replay_failed(actor, channel, utc[0], utc[1])
    click.echo(f"已重新排队 {len(ids)} 条 / queued again: {len(ids)}")


@click.command("retry-now")
@click.argument("channel")
@as_option
@pass_cli
def retry_now(cli: Cli, channel: str, as_user: str | None) -> None:
    """让渠道中等待重试的投递立即到期（如配额已恢复）/ make a channel's waiting retries due now."""
    ids = cli.runtime().deliveries.retry_now(cli.actor(as_user), channel)
    click.echo(f"已提前 {len(ids)} 条 / due now: {len(ids)}")


@click.group()
def channel() -> None:
    """渠道：状态、暂停与恢复 / channels: state, pause and resume."""


@channel.command("list")
@json_option
@pass_cli
def channel_list(cli: Cli, as_json: bool) -> None:
    """各渠道状态 / every channel's state and delivery counts."""
    rows = cli.runtime().deliveries.channel_states()
    if as_json:
        emit_json(rows)
        return
    table(
        ["渠道", "启用", "暂停", "熔断器", "各状态数量"],
        [
            [
                r["channel"],
                "是" if r["enabled"] else "否",
                "是" if r["paused"] else "否",
                r["breaker"],
                ", ".join(f"{k}={v}" for k, v in sorted(r["counts"].items())),
            ]
            for r in rows
        ],
    )


@channel.command("pause")
@click.argument("name")
@click.option("--reason", required=True, help="原因 / reason")
@as_option
@pass_cli
def channel_pause(cli: Cli, name: str, reason: str, as_user: str | None) -> None:
    """暂停渠道：到期投递转为 held，不会丢失 / pause: due deliveries are held, never dropped."""
    cli.runtime().deliveries.pause(cli.actor(as_user), name, reason)
    click.echo(f"已暂停 / paused: {name}")


@channel.command("resume")
@click.argument("name")
@as_option
@pass_cli
def channel_resume(cli: Cli, name: str, as_user: str | None) -> None:
    """恢复渠道并放行被挂起的投递 / resume and release its held deliveries."""
    _status, released = cli.runtime().deliveries.resume(cli.actor(as_user), name)
    click.echo(f"已恢复 / resumed: {name}，放行 {len(released)} 条 / released {len(released)}")


# -- reconciliation -------------------------------------------------------------------------------
# a channel's store could not be read: nothing wrong was found, but nothing is established either
RECONCILE_NOT_CHECKED = 3


@click.command("reconcile")
@click.option(
    "--channel", "names", multiple=True, help="只核对这些渠道（可多次）/ only these channels (repeatable)"
)
@click.option("--strict", is_flag=True, help="尚未送达也算问题 / count deliveries still pending as problems")
@json_option
@pass_cli
def reconcile_cmd(cli: Cli, names: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """核对各渠道实际内容与投递账本 / compare what every channel holds with the ledger.

    Exit 0: every channel checked and consistent; 1: a mismatch in a checked channel; 3: no
    mismatch found, but a channel's store could not be read (not checked, so not consistent)."""
    reports = cli.runtime().deliveries.reconcile(list(names) or None)
    bad = sum(len(r.findings if strict else r.problems) for r in reports if r.checked)
    checked = [r for r in reports if r.checked]
    unreadable = [r for r in reports if r.not_checked == "unreadable"]
    unlistable = [r for r in reports if r.not_checked == "unlistable"]
    code = 1 if bad else (RECONCILE_NOT_CHECKED if unreadable else 0)
    if as_json:
        emit_json(
            {
                "ok": code == 0,
                "consistent": bad == 0 and not unreadable,
                "mismatches": bad,
                "not_checked": [r.channel for r in reports if not r.checked],
                "channels": [r.as_dict() for r in reports],
            }
        )
    else:
        for r in reports:
            if not r.checked:
                why = (
                    "无法读取 / could not read"
                    if r.not_checked == "unreadable"
                    else "不可列出 / cannot be listed"
                )
                click.echo(f"{r.channel}: 未核对 / not checked ({why}) — {r.error}")
                continue
            click.echo(
                f"{r.channel}: 已核对 / checked — 应在线 {r.expected_live}，实际在线 {r.held_live}，"
                f"问题 {len(r.problems)} / expected live {r.expected_live}, live {r.held_live}, "
                f"problems {len(r.problems)}"
            )
            for f in r.findings:
                click.echo(f"  - [{f.problem}] {f.uid}: {f.detail}")
        skipped = len(unreadable) + len(unlistable)
        if bad:
            click.echo(f"发现 {bad} 处不一致 / {bad} mismatches")
        elif unreadable:
            click.echo(
                f"未能核对 {len(unreadable)} 个渠道，不能判定一致 / {len(unreadable)} channel(s) could not "
                f"be read: consistency not established"
            )
        elif skipped:
            click.echo(
                f"已核对的 {len(checked)} 个渠道一致；{skipped} 个渠道不可列出，未核对 / the {len(checked)} "
                f"checked channel(s) are consistent; {skipped} cannot be listed and were not checked"
            )
        else:
            click.echo(
                f"{len(checked)} 个渠道均已核对，一致 / all {len(checked)} channels checked: consistent"
            )
    if code:
        cli.ctx.exit(code)
