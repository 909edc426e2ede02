"""`publisher item`: create, show and list items; the workflow transitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

import click

from publisher.cli.common import (
    SUMMARY_HEADERS,
    Cli,
    Fail,
    as_option,
    clip,
    describe,
    emit_json,
    items_of,
    json_option,
    parse_date,
    pass_cli,
    read_json,
    show_detail,
    state_label,
    summary_row,
    table,
    type_label,
)
from publisher.domain.errors import (
    PublisherError,
)
from publisher.domain.item import ItemState, ItemType, Validity
from publisher.editorial.auth import Actor


# -- items ------------------------------------------------------------------------------------------
@click.group()
def item() -> None:
    """信息：新建、查看、列表与审批流转 / items: create, show, list and the workflow."""


@item.command("create")
@click.option(
    "--file",
    "source",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help="信息 JSON 文件，- 为标准输入 / item JSON file, - for stdin",
)
@as_option
@json_option
@pass_cli
def item_create(cli: Cli, source: TextIO, as_user: str | None, as_json: bool) -> None:
    """新建信息（草稿），JSON 与样例同形 / create items (drafts) from JSON shaped like the samples."""
    records = items_of(read_json(source))
    actor = cli.actor(as_user)
    service = cli.runtime().service
    created = []
    for i, data in enumerate(records, 1):
        try:
            created.append(service.item_detail(service.create_item(actor, data).uid))
        except PublisherError as exc:
            done = f"（此前已新建 {len(created)} 条 / {len(created)} created before）" if created else ""
            where = f"第 {i} 条 / item {i}: " if len(records) > 1 else ""
            raise Fail(f"{where}{describe(exc)}{done}") from exc
    if as_json:
        emit_json(created if len(records) > 1 else created[0])
        return
    for d in created:
        click.echo(f"已新建 / created {d['uid']}  {type_label(d['type'])}  《{d['title']}》")


@item.command("show")
@click.argument("uid")
@json_option
@pass_cli
def item_show(cli: Cli, uid: str, as_json: bool) -> None:
    """查看一条信息（uid 或 ref）/ show one item (uid or ref)."""
    service = cli.runtime().service
    uid = cli.uid(uid)
    detail, deliveries = service.item_detail(uid), service.deliveries(uid)
    if as_json:
        emit_json({**detail, "deliveries": deliveries})
        return
    show_detail(detail, deliveries)


@item.command("list")
@click.option("--type", "type_", type=click.Choice([t.value for t in ItemType]), help="类型 / type")
@click.option("--state", type=click.Choice([s.value for s in ItemState]), help="状态 / state")
@click.option("--validity", type=click.Choice([v.value for v in Validity]), help="有效性 / validity")
@click.option("-q", "query", help="标题、索取号或 ref 包含 / title, index number or ref contains")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@json_option
@pass_cli
def item_list(
    cli: Cli,
    type_: str | None,
    state: str | None,
    validity: str | None,
    query: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """信息列表，最近更新在前 / list items, most recently updated first."""
    total, items = cli.runtime().service.list_items(
        type=type_, state=state, validity=validity, q=query, limit=limit, offset=offset
    )
    if as_json:
        emit_json({"total": total, "limit": limit, "offset": offset, "items": items})
        return
    if not items:
        click.echo(f"没有符合条件的信息 / no items (total {total})")
        return
    table(SUMMARY_HEADERS, [summary_row(d) for d in items])
    click.echo(f"共 {total} 条，显示 {offset + 1}-{offset + len(items)} / {total} items")


def _transition(name: str, help_text: str, run: Callable[[Cli, Actor, str], list[str]]) -> None:
    @item.command(name, help=help_text)
    @click.argument("uid")
    @as_option
    @json_option
    @pass_cli
    def command(cli: Cli, uid: str, as_user: str | None, as_json: bool) -> None:
        actor = cli.actor(as_user)
        touched = run(cli, actor, cli.uid(uid))
        service = cli.runtime().service
        details = [service.item_detail(u) for u in touched]
        if as_json:
            emit_json(details[0] if len(details) == 1 else details)
            return
        for d in details:
            click.echo(
                f"{d['uid']}  《{clip(d['title'], 40)}》  → {state_label(d['state'])} ({d['state']})"
                + (f"  {d['index_number']}" if d.get("index_number") else "")
                + ("" if d["validity"] == Validity.VALID else f"  {d['validity']}")
            )


def _simple(action: str) -> Callable[[Cli, Actor, str], list[str]]:
    def run(cli: Cli, actor: Actor, uid: str) -> list[str]:
        getattr(cli.runtime().service, action)(actor, uid)
        return [uid]

    return run


_transition("submit", "提交保密审查（编辑）/ submit for review (editor).", _simple("submit"))
_transition("review", "保密审查通过（审查员）/ confidentiality review passed (reviewer).", _simple("review"))


@item.command("approve")
@click.argument("uid")
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="CHANNEL",
    help="不投递此渠道：只有它的预检问题时仍批准，投递记为 excluded，可用 `publisher release ID` 放行（可多次）"
    " / leave this channel out: its own pre-flight problems no longer refuse the approval; its delivery"
    " waits as excluded until `publisher release ID` (repeatable)",
)
@click.option(
    "--exclude-reason",
    "exclude_reason",
    default=None,
    metavar="TEXT",
    help="排除渠道的理由，记入投递与审计日志 / why the channels are left out (kept and audited)",
)
@as_option
@json_option
@pass_cli
def item_approve(
    cli: Cli,
    uid: str,
    exclude: tuple[str, ...],
    exclude_reason: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """批准发布，发布组一并批准（批准人，非作者）/ approve; a release group together (approver, not the author)."""
    actor = cli.actor(as_user)
    runtime = cli.runtime()
    outcome = runtime.service.approve(actor, cli.uid(uid), exclude=exclude, exclude_reason=exclude_reason)
    touched = [m.uid for m in outcome.items] or [cli.uid(uid)]
    details = [runtime.service.item_detail(u) for u in touched]
    if as_json:
        emit_json(details[0] if len(details) == 1 else details)
        return
    for d in details:
        click.echo(
            f"{d['uid']}  《{clip(d['title'], 40)}》  → {state_label(d['state'])} ({d['state']})"
            + (f"  {d['index_number']}" if d.get("index_number") else "")
            + ("" if d["validity"] == Validity.VALID else f"  {d['validity']}")
        )
        for row in runtime.service.deliveries(d["uid"]):
            if row["state"] == "excluded":
                click.echo(
                    f"  排除 / excluded: {row['channel']} (投递 / delivery {row['id']}) — {row['last_error']}"
                )


@item.command("import-index-no")
@click.argument("uid")
@click.argument("number")
@as_option
@pass_cli
def item_import_index_no(cli: Cli, uid: str, number: str, as_user: str | None) -> None:
    """导入历史索取号（管理员；校验格式与年份，记入审计）/ import a legacy item's index number (admin)."""
    actor = cli.actor(as_user)
    item = cli.runtime().service.import_index_number(actor, cli.uid(uid), number)
    click.echo(f"《{item.title}》的索取号为 {item.index_number} / index number imported")


@item.command("reject")
@click.argument("uid")
@click.option("--reason", required=True, help="退回理由 / reason")
@as_option
@pass_cli
def item_reject(cli: Cli, uid: str, reason: str, as_user: str | None) -> None:
    """退回修改（审查员、批准人）/ reject with a reason (reviewer, approver)."""
    actor = cli.actor(as_user)
    item_uid = cli.uid(uid)
    d = cli.runtime().service.reject(actor, item_uid, reason)
    click.echo(f"{d.uid}  已退回 / rejected → {state_label(d.state)}：{reason}")


@item.command("abolish")
@click.argument("uid")
@click.option("--date", "on", required=True, metavar="YYYY-MM-DD", help="废止/失效日期 / date")
@click.option("--by", help="废止它的信息（uid 或 ref）/ the abolishing item")
@click.option(
    "--validity",
    default=Validity.ABOLISHED.value,
    show_default=True,
    type=click.Choice([Validity.ABOLISHED.value, Validity.EXPIRED.value, Validity.AMENDED.value]),
)
@as_option
@pass_cli
def item_abolish(cli: Cli, uid: str, on: str, by: str | None, validity: str, as_user: str | None) -> None:
    """废止或宣布失效，各渠道随之更新（批准人）/ abolish or expire; every channel is updated (approver)."""
    when = parse_date(on)
    actor = cli.actor(as_user)
    item_uid = cli.uid(uid)
    cli.runtime().service.abolish(actor, item_uid, on=when, by=by, validity=validity)
    click.echo(f"{item_uid}  → {validity}（{when.isoformat()}）")


@item.command("withdraw")
@click.argument("uid")
@click.option("--reason", required=True, help="撤回理由 / reason")
@as_option
@pass_cli
def item_withdraw(cli: Cli, uid: str, reason: str, as_user: str | None) -> None:
    """从所有渠道撤回（批准人）/ withdraw from every channel (approver)."""
    actor = cli.actor(as_user)
    item_uid = cli.uid(uid)
    cli.runtime().service.withdraw(actor, item_uid, reason)
    click.echo(f"{item_uid}  已撤回 / withdrawn：{reason}")
