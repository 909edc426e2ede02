"""`publisher audit`: verify, anchor, seal and list the hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import httpx

from channels._http import excerpt, make_client
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


# -- audit ------------------------------------------------------------------------------------------
@click.group()
def audit() -> None:
    """审计日志 / the audit log."""


def _read_anchor(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Fail(f"无法读取锚点文件 {path} / cannot read the anchor file: {exc}") from exc
    if not isinstance(data, dict):
        raise Fail(f"{path} 不是审计锚点 / not an audit anchor")
    return data


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="并证明链仍延续此锚点（publisher audit anchor 导出）/ also prove the chain still extends this anchor",
)
@json_option
@pass_cli
def audit_verify(cli: Cli, anchor_file: Path | None, as_json: bool) -> None:
    """校验哈希链（配置了密钥时含带密钥哈希）：完好退出码 0，发现问题退出码 1 /
    verify the chain (and its keyed hashes when a key is configured): exit 0 intact, 1 broken."""
    anchor = _read_anchor(anchor_file) if anchor_file else None
    checked, problems = cli.runtime().service.verify_audit(anchor)
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


@audit.command("anchor")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="写入文件（- 为标准输出）/ write to this file (- for stdout)",
)
@click.option(
    "--send", is_flag=True, help="并 POST 到 [audit] anchor_url / also POST it to [audit] anchor_url"
)
@pass_cli
def audit_anchor(cli: Cli, output: str, send: bool) -> None:
    """导出签名的链头，存放在数据库之外 / export the signed head of the chain, to keep outside the database."""
    anchor = cli.runtime().service.audit_anchor()
    if send:
        _send_anchor(cli, anchor)
    text = json.dumps(anchor, ensure_ascii=False, indent=2) + "\n"
    if output == "-":
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(
        f"已导出审计锚点：事件 {anchor['seq']}，密钥 {anchor['key_id']} → {output} / "
        f"anchored event {anchor['seq']} with key {anchor['key_id']}",
        err=True,
    )


def _send_anchor(cli: Cli, anchor: dict[str, Any]) -> None:
    settings = cli.settings.audit
    if not settings.anchor_url:
        raise Fail("未配置 [audit] anchor_url / no [audit] anchor_url to send the anchor to")
    token = settings.anchor_token.get_secret_value() if settings.anchor_token else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with make_client(headers=headers) as client:
            response = client.post(settings.anchor_url, json=anchor)
    except httpx.HTTPError as exc:
        raise Fail(f"锚点发送失败 / sending the anchor failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise Fail(
            f"锚点接收方拒绝（HTTP {response.status_code}）/ the receiver refused the anchor: {excerpt(response)}"
        )
    click.echo(f"已发送审计锚点到 {settings.anchor_url} / anchor sent", err=True)


@audit.command("seal")
@click.option(
    "--rekey",
    is_flag=True,
    help="用当前密钥重算全部事件（密钥轮换后）/ re-key every event (after a rotation)",
)
@as_option
@pass_cli
def audit_seal(cli: Cli, rekey: bool, as_user: str | None) -> None:
    """为配置密钥之前的事件补上带密钥哈希（先校验整条链）/ key the events from before the key (the chain is verified first)."""
    actor = cli.actor(as_user)
    count = cli.runtime().service.seal_audit(actor, rekey=rekey)
    click.echo(f"已为 {count} 条事件加上带密钥哈希 / {count} events keyed")


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
