"""`publisher audit`: verify and list the hash-chained audit log."""

from __future__ import annotations

import click

from publisher.cli.common import (
    Cli,
    clip,
    emit_json,
    json_option,
    pass_cli,
    table,
)


# -- audit ------------------------------------------------------------------------------------------
@click.group()
def audit() -> None:
    """审计日志 / the audit log."""


@audit.command("verify")
@json_option
@pass_cli
def audit_verify(cli: Cli, as_json: bool) -> None:
    """校验哈希链：完好退出码 0，发现问题退出码 1 / verify the hash chain: exit 0 intact, 1 broken."""
    checked, problems = cli.runtime().service.verify_audit()
    if as_json:
        emit_json(
            {
                "checked": checked,
                "intact": not problems,
                "problems": [{"seq": p.seq, "problem": p.problem} for p in problems],
            }
        )
    elif not problems:
        click.echo(f"审计日志完好：已校验 {checked} 条事件 / audit log intact: {checked} events checked")
    else:
        click.echo(
            f"审计日志被篡改：发现 {len(problems)} 处问题（已校验 {checked} 条）/ audit log tampered:",
            err=True,
        )
        for p in problems:
            click.echo(f"  - 事件 / event {p.seq}: {p.problem}", err=True)
    if problems:
        cli.ctx.exit(1)


@audit.command("list")
@click.option("--item", "item_ref", help="只看某条信息（uid 或 ref）/ one item (uid or ref)")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_cli
def audit_list(cli: Cli, item_ref: str | None, limit: int, as_json: bool) -> None:
    """列出审计事件 / list audit events in order."""
    uid = cli.uid(item_ref) if item_ref else None
    events = cli.runtime().service.audit_events(uid, limit=limit)
    if as_json:
        emit_json(events)
        return
    table(
        ["seq", "时间", "操作人", "动作", "信息", "理由"],
        [
            [
                str(e["seq"]),
                e["at"][:19],
                e["actor"],
                e["action"],
                e["item"] or "",
                clip(e["reason"] or "", 30),
            ]
            for e in events
        ],
    )
