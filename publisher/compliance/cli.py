"""The compliance command groups (`calendar`, `compliance`, `application`), registered on
the main `publisher` group; they call publisher.compliance.service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from publisher.cli.common import (
    Cli,
    as_option,
    clip,
    emit_json,
    json_option,
    pass_cli,
    read_json,
    table,
)
from publisher.domain.errors import (
    ValidationError,
)
from publisher.domain.item import ItemType


@click.group("calendar")
def calendar_group() -> None:
    """工作日历：节假日与调休 / the working-day calendar: holidays and make-up working days."""


@calendar_group.command("load")
@click.argument("source", type=click.File("r", encoding="utf-8"), metavar="FILE")
@as_option
@json_option
@pass_cli
def calendar_load(cli: Cli, source: TextIO, as_user: str | None, as_json: bool) -> None:
    """载入官方节假日安排（如 publisher/data/holidays/2027.json），到期日随即重算 / load an official
    schedule; due dates are recomputed (no longer provisional)."""
    actor = cli.actor(as_user)
    schedule, changed, _calendar = cli.runtime().compliance.load_calendar(actor, read_json(source))
    if as_json:
        emit_json(
            {
                "year": schedule.year,
                "holidays": len(schedule.holidays),
                "workdays": len(schedule.workdays),
                "recomputed": changed,
            }
        )
        return
    click.echo(
        f"已载入 {schedule.year} 年安排：放假 {len(schedule.holidays)} 天，调休上班 {len(schedule.workdays)} 天 / "
        f"loaded {schedule.year}"
    )
    if changed:
        table(
            ["uid", "时限", "原到期日", "新到期日", "标题"],
            [
                [
                    c["uid"],
                    c["clock"],
                    c["was"] + ("（暂定）" if c["was_provisional"] else ""),
                    c["due_on"],
                    clip(c["title"], 30),
                ]
                for c in changed
            ],
        )
    click.echo(f"重算到期日 {len(changed)} 条 / recomputed {len(changed)} due dates")


@calendar_group.command("show")
@click.argument("year", type=click.IntRange(2000, 2100))
@json_option
@pass_cli
def calendar_show(cli: Cli, year: int, as_json: bool) -> None:
    """某年的节假日与调休及其来源 / a year's holidays, make-up days and where they come from."""
    data = cli.runtime().compliance.calendar(year)
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"{year} 年 · 来源 / source: {data['source']}{'（暂定 / provisional）' if data['provisional'] else ''}"
    )
    click.echo("放假（工作日中）/ holidays on weekdays: " + ", ".join(data["holidays"]))
    click.echo("调休上班 / make-up working days: " + (", ".join(data["workdays"]) or "—"))


@click.group("compliance")
def compliance_group() -> None:
    """公开合规：时限、栏目监测、目录、年报数据 / disclosure compliance."""


def _deadline_rows(rows: list[dict[str, Any]]) -> None:
    table(
        ["uid", "时限", "起算日", "到期日", "剩余工作日", "状态", "标题"],
        [
            [
                d["uid"],
                d["clock"],
                d["started_on"],
                d["due_on"] + ("（暂定）" if d["provisional"] else ""),
                "" if d["working_days_left"] is None else str(d["working_days_left"]),
                d["status_label"],
                clip(d["title"], 30),
            ]
            for d in rows
        ],
    )


@compliance_group.command("deadlines")
@click.option(
    "--status", type=click.Choice(["open", "at_risk", "overdue", "met", "met_late"]), help="状态 / status"
)
@json_option
@pass_cli
def compliance_deadlines(cli: Cli, status: str | None, as_json: bool) -> None:
    """公开时限（20个工作日）/ statutory deadlines, due date first."""
    rows = cli.runtime().compliance.deadlines(status)
    if as_json:
        emit_json(rows)
        return
    _deadline_rows(rows)
    click.echo(f"共 {len(rows)} 条 / {len(rows)} clocks")


@compliance_group.command("overdue")
@json_option
@pass_cli
def compliance_overdue(cli: Cli, as_json: bool) -> None:
    """逾期未公开的信息；有逾期时退出码 1 / the overdue list; exit 1 when there is any."""
    rows = cli.runtime().compliance.overdue()
    if as_json:
        emit_json(rows)
    else:
        _deadline_rows(rows)
        click.echo(f"逾期 {len(rows)} 条 / {len(rows)} overdue")
    if rows:
        cli.ctx.exit(1)


@compliance_group.command("check")
@as_option
@json_option
@pass_cli
def compliance_check(cli: Cli, as_user: str | None, as_json: bool) -> None:
    """立即运行合规检查并发出提醒 / run the periodic checks now and raise their alerts."""
    data = cli.runtime().compliance.run_checks(cli.actor(as_user))
    if as_json:
        emit_json(data)
        return
    found, watched, added = len(data["deadlines"]), len(data["inspection"]), data["reminders_added"]
    click.echo(
        f"时限预警 {found} 条，栏目预警 {watched} 条，新增提醒 {added} 条 / {found} deadlines, "
        f"{watched} columns at risk, {added} reminders added"
    )


@compliance_group.command("inspection")
@json_option
@pass_cli
def compliance_inspection(cli: Cli, as_json: bool) -> None:
    """各渠道各栏目最新信息的时长 / age of the newest item per channel and column."""
    rows = cli.runtime().compliance.inspection()
    if as_json:
        emit_json(rows)
        return
    table(
        ["渠道", "栏目", "最新", "天数", "阈值", "状态"],
        [
            [
                w["channel"],
                clip(w["label"], 24),
                (w["newest_at"] or "")[:16],
                "" if w["age_days"] is None else f"{w['age_days']:.1f}",
                w["threshold"] or "",
                w["status_label"],
            ]
            for w in rows
            if w["status"] != "untracked"
        ],
    )


@compliance_group.command("catalogue")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True, help="输出文件 / file"
)
@click.option("--type", "type_", type=click.Choice([t.value for t in ItemType]), help="类型 / type")
@click.option("--subject", help="主题分类（含下级）/ subject class and its children")
@click.option("--year", type=click.IntRange(2000, 2100), help="发布年份 / publication year")
@pass_cli
def compliance_catalogue(
    cli: Cli, fmt: str, output: str, type_: str | None, subject: str | None, year: int | None
) -> None:
    """导出主动公开目录 / export the active-disclosure catalogue."""
    from publisher.compliance.catalogue import Filters, catalogue_table
    from publisher.compliance.tabular import stream

    count = 0

    def counted(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    # streamed into the file a batch of rows at a time, as the web export is
    rows = counted(cli.runtime().compliance.catalogue_stream(Filters(type=type_, subject=subject, year=year)))
    table = catalogue_table(rows, cli.settings.agency.name, cli.settings.agency.labels.model_dump())
    with Path(output).open("wb") as out:
        for chunk in stream(table, fmt):
            out.write(chunk)
    click.echo(f"已导出 {count} 条到 {output} / exported {count} rows")


@compliance_group.command("annual")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--csv", "as_csv", is_flag=True, help="输出 CSV / print CSV")
@json_option
@pass_cli
def compliance_annual(cli: Cli, year: int, as_csv: bool, as_json: bool) -> None:
    """年度报告数据 / the year's figures for the annual report."""
    from publisher.compliance.annual import figures_table
    from publisher.compliance.tabular import to_csv

    figures = cli.runtime().compliance.annual(year)
    if as_json:
        emit_json({"year": year, "figures": [f.__dict__ for f in figures]})
    elif as_csv:
        click.echo(to_csv(figures_table(year, figures)).decode("utf-8-sig"), nl=False)
    else:
        table(["类别", "指标", "数值"], [[f.section, f.metric, str(f.value)] for f in figures])


@compliance_group.command("reminders")
@click.option("--all", "include_done", is_flag=True, help="含已完成 / include done ones")
@json_option
@pass_cli
def compliance_reminders(cli: Cli, include_done: bool, as_json: bool) -> None:
    """待办提醒（如征求意见采纳情况）/ reminders, e.g. adoption reports to publish."""
    rows = cli.runtime().compliance.reminders(include_done=include_done)
    if as_json:
        emit_json(rows)
        return
    table(
        ["信息", "建议完成", "完成", "说明"],
        [[r["item"], r["due_on"] or "", r["done_by"] or "", clip(r["message"], 50)] for r in rows],
    )


@click.group("application")
def application_group() -> None:
    """依申请公开：登记答复、转为主动公开 / applications: record answers, convert to active disclosure."""


@application_group.command("add")
@click.option(
    "--file",
    "source",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help="申请 JSON（number, received_on, answered_on, subject, answer, applicant…）/ application JSON",
)
@as_option
@json_option
@pass_cli
def application_add(cli: Cli, source: TextIO, as_user: str | None, as_json: bool) -> None:
    """登记一件已答复的申请 / record an answered application."""
    actor = cli.actor(as_user)
    data = read_json(source)
    if not isinstance(data, dict):
        raise ValidationError.one("body", "应为一个申请对象 / expected one application object")
    out = cli.runtime().compliance.record_application(actor, data, private=False)
    if as_json:
        emit_json(out)
    else:
        click.echo(f"已登记申请 / recorded: {out['number']}")


@application_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@json_option
@pass_cli
def application_list(cli: Cli, limit: int, as_json: bool) -> None:
    """已答复的申请（不含申请人）/ answered applications (without applicants)."""
    total, rows = cli.runtime().compliance.applications(limit=limit)
    if as_json:
        emit_json({"total": total, "applications": rows})
        return
    table(
        ["编号", "收到", "答复", "转主动", "事项"],
        [
            [
                a["number"],
                a["received_on"],
                a["answered_on"],
                a["converted_item"] or "",
                clip(a["subject"], 40),
            ]
            for a in rows
        ],
    )


@application_group.command("convert")
@click.argument("number")
@click.option("--reason", required=True, help="为何具有普遍性 / why the answer is of wide interest")
@click.option("--type", "type_", type=click.Choice(["notice", "policy"]), default="notice", show_default=True)
@click.option("--subject", default="综合政务\\政务公开", show_default=True, help="主题分类 / subject class")
@click.option("--title", help="标题（默认为申请事项）/ title (default: the application's subject)")
@as_option
@json_option
@pass_cli
def application_convert(
    cli: Cli,
    number: str,
    reason: str,
    type_: str,
    subject: str,
    title: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """依申请转主动：生成关联的草稿 / convert an answered application into a linked draft item."""
    actor = cli.actor(as_user)
    opts: dict[str, Any] = {"reason": reason, "type": type_, "subject": subject}
    if title:
        opts["title"] = title
    uid = cli.runtime().compliance.convert_application(actor, number, opts)
    if as_json:
        emit_json(cli.runtime().service.item_detail(uid))
    else:
        click.echo(f"已生成草稿 / draft created: {uid}")
        click.echo(uid)
