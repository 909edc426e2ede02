"""Post-publication inspection (ops): `inspect` runs it now; `drifts` lists what it found;
`drift repush|accept` act on one record. Through publisher.delivery.service."""

from __future__ import annotations

import sys

import click

from publisher.cli.common import Cli, as_option, clip, emit_json, json_option, pass_cli, table

# every copy was read and matched the ledger: 0; a drift in a copy: 1; no drift found, but
# some copies could not be read (not checked, so not established): 3 — as `reconcile`
INSPECT_NOT_CHECKED = 3


@click.command("inspect")
@click.option(
    "--channel", "names", multiple=True, help="只检查这些渠道（可多次）/ only these channels (repeatable)"
)
@click.option("--item", help="只检查这一条信息（uid 或 ref）/ only this item (uid or ref)")
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="每渠道每秒至多检查几份（0：不限）/ copies per second per channel at most (0: no limit)",
)
@click.option("--quiet", is_flag=True, help="不显示进度 / no progress lines")
@json_option
@pass_cli
def inspect_cmd(
    cli: Cli, names: tuple[str, ...], item: str | None, rate: float, quiet: bool, as_json: bool
) -> None:
    """立即检查各渠道的在线副本 / inspect every live copy now.

    Each copy is read back through its channel (exists, public, same version and validity,
    not edited by hand) and the body's outbound links are checked; a difference is recorded
    as drift. Exit 0: every copy checked and as delivered; 1: drift found; 3: no drift
    found, but some copies could not be read (not checked)."""

    def progress(channel: str, done: int, total: int | None, outcome: str, uid: str) -> None:
        if quiet or as_json:
            return
        if outcome != "ok" or done == total or done % 50 == 0:
            click.echo(f"  {channel}: {done}/{total} {outcome} {uid}", err=True)

    report = cli.runtime().deliveries.inspect(list(names) or None, item, progress=progress, rate=rate or None)
    code = 1 if report.drifted else (INSPECT_NOT_CHECKED if report.unchecked else 0)
    if as_json:
        emit_json(
            {
                "ok": code == 0,
                "inspected": report.inspected,
                "drifted": report.drifted,
                "unchecked": report.unchecked,
                "channels": [c.as_dict() for c in report.channels],
            }
        )
    else:
        for c in report.channels:
            if c.not_inspectable:
                click.echo(f"{c.channel}: 不可检查 / not inspectable (push-only, keeps no copy to read)")
                continue
            rate_s = f"{c.inspected / c.seconds:.1f}/s" if c.seconds > 0 else "-"
            click.echo(
                f"{c.channel}: 检查 {c.inspected}，正常 {c.ok}，偏差 {c.drifted}（新 {c.new_drifts}），"
                f"未能检查 {c.unchecked} / inspected {c.inspected}, ok {c.ok}, drifted {c.drifted} "
                f"({c.new_drifts} new), not checked {c.unchecked} — {c.seconds:.1f}s, {rate_s}"
            )
            for e in c.errors[:3]:
                click.echo(f"  ! {e}")
        if report.drifted:
            click.echo(
                f"发现 {report.drifted} 份副本有偏差，见 publisher drifts / {report.drifted} copies drifted: "
                "see `publisher drifts`"
            )
        elif report.unchecked:
            click.echo(
                f"{report.unchecked} 份副本未能读取，不能判定一致 / {report.unchecked} copies could not be read"
            )
        else:
            click.echo(f"{report.inspected} 份副本均与账本一致 / all {report.inspected} copies as delivered")
    sys.stdout.flush()
    if code:
        cli.ctx.exit(code)


@click.command("drifts")
@click.option("--all", "show_all", is_flag=True, help="含已处理的 / resolved ones too")
@click.option("--channel", help="渠道 / channel")
@click.option("--item", help="信息（uid 或 ref）/ item (uid or ref)")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_cli
def drifts(
    cli: Cli, show_all: bool, channel: str | None, item: str | None, limit: int, as_json: bool
) -> None:
    """在线副本偏差记录 / drift records (open ones unless --all)."""
    rows = cli.runtime().deliveries.drifts(open_only=not show_all, channel=channel, item=item, limit=limit)
    if as_json:
        emit_json(rows)
        return
    table(
        ["id", "渠道", "信息", "类型", "应为", "实为", "发现于", "处理"],
        [
            [
                str(r["id"]),
                r["channel"],
                r["item"] or "",
                r["kind"],
                clip(r["expected"], 24),
                clip((r["subject"] + " " if r["subject"] else "") + r["found"], 40),
                r["detected_at"][:19],
                r["resolution"] or "未处理 / open",
            ]
            for r in rows
        ],
    )
    click.echo(f"共 {len(rows)} 条 / {len(rows)} records")


@click.group("drift")
def drift() -> None:
    """处理一条偏差记录 / act on one drift record."""


@drift.command("repush")
@click.argument("drift_id", type=click.IntRange(1))
@as_option
@pass_cli
def drift_repush(cli: Cli, drift_id: int, as_user: str | None) -> None:
    """重新投递该版本（正常投递）/ send the version again as a normal delivery."""
    delivery_id = cli.runtime().deliveries.repush(cli.actor(as_user), drift_id)
    click.echo(f"已重新排队 / queued again: delivery {delivery_id}")


@drift.command("accept")
@click.argument("drift_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="原因 / reason (audited)")
@as_option
@pass_cli
def drift_accept(cli: Cli, drift_id: int, reason: str, as_user: str | None) -> None:
    """接受偏差，保留副本现状（记入审计）/ accept the drift, leave the copy as it is (audited)."""
    cli.runtime().deliveries.accept_drift(cli.actor(as_user), drift_id, reason)
    click.echo(f"已接受 / accepted: {drift_id}")
