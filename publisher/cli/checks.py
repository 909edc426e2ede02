"""The content checks on the command line (registered on `publisher` by `publisher.cli`):

publisher item check UID [--network] [--json]          the item's one problem list; exit 1 if it blocks
publisher item accept UID KEY --reason … --as REVIEWER  accept one warning (audited)
publisher checks words [--all] [--starter] [--json]     the dictionary
publisher checks word add TERM --kind … [--suggest …] --as OPS
publisher checks word remove TERM --as OPS              (a starter entry is switched off)
publisher checks words-import FILE.tsv --as OPS        entries in the starter file's format
publisher checks people [--all] [--json]                the names and titles register
publisher checks person add NAME --title … --from … [--to …] --as OPS
publisher checks person remove ID --as OPS
"""

from __future__ import annotations

from pathlib import Path

import click

from publisher.editorial.checks import Problem, Severity
from publisher.editorial.checks.problem import SEVERITY_LABELS
from publisher.editorial.checks.wording import DictionaryError, read_tsv


def register(main: click.Group, item: click.Group) -> None:
    from publisher.cli.common import (
        Cli,
        as_option,
        clip,
        emit_json,
        json_option,
        parse_date,
        pass_cli,
        table,
    )

    def show(report_items: list[Problem]) -> None:
        rows = []
        for p in report_items:
            severity = SEVERITY_LABELS[p.severity] + ("（已接受）" if p.accepted else "")
            where = (f"《{clip(p.item_title, 16)}》" if p.item_title else "") + (p.label or p.field)
            position = f"{p.start}-{p.end}" if p.start is not None else ""
            rows.append(
                [
                    severity,
                    p.rule,
                    clip(where, 24),
                    position,
                    clip(p.matched or "", 24),
                    clip(p.suggestion or "", 24),
                    p.key[:12],
                ]
            )
        table(["级别", "规则", "字段", "位置", "内容", "建议", "key"], rows)
        for p in report_items:
            click.echo(f"  - [{p.rule}] {p.label or p.field}：{p.message}")
            if p.accepted:
                click.echo(f"      已接受：{p.accepted.reason}（{p.accepted.by}，{p.accepted.at[:19]}）")

    @item.command("check")
    @click.argument("uid")
    @click.option("--network", is_flag=True, help="现在检查链接（否则只用缓存）/ probe links now")
    @json_option
    @pass_cli
    def item_check(cli: Cli, uid: str, network: bool, as_json: bool) -> None:
        """信息的问题清单（内容检查与渠道预检）；有阻止批准的问题时退出码为 1 / an item's problems; exit 1 when any blocks approval."""
        info, report = cli.runtime().check_service.item_report(cli.uid(uid), network=network)
        if as_json:
            emit_json({**report.as_dict(), "item": info})
        else:
            click.echo(f"《{info['title']}》 {info['uid']}")
            if not report.problems:
                click.echo("未发现问题 / no problems")
            else:
                show(report.problems)
            blocking = len(report.blocking)
            click.echo(
                f"阻止批准的问题 {blocking} 个 / {blocking} problem(s) refuse approval"
                if blocking
                else "可以批准 / nothing refuses approval"
            )
            if report.links_unchecked:
                click.echo(
                    f"另有 {report.links_unchecked} 个链接尚未检查（批准时检查，或加 --network）/ links not yet probed"
                )
        if report.blocking:
            cli.ctx.exit(1)

    @item.command("accept")
    @click.argument("uid")
    @click.argument("key")
    @click.option("--reason", required=True, help="接受理由 / reason")
    @as_option
    @json_option
    @pass_cli
    def item_accept(cli: Cli, uid: str, key: str, reason: str, as_user: str | None, as_json: bool) -> None:
        """接受一条提醒（warn）并说明理由（审查员）/ accept a warning with a reason (reviewer). KEY: from `item check` (a prefix is enough)."""
        actor = cli.actor(as_user)
        service = cli.runtime().check_service
        full = cli.uid(uid)
        _, current = service.item_report(full)
        matches = [p.key for p in current.problems if p.key.startswith(key)]
        report = service.accept(actor, full, matches[0] if len(matches) == 1 else key, reason)
        if as_json:
            emit_json(report.as_dict())
        else:
            click.echo(f"已接受 / accepted: {key}；仍阻止批准的问题 {len(report.blocking)} 个")

    @main.group()
    def checks() -> None:
        """内容检查的词库与姓名职务登记簿（运维）/ the content checks' dictionary and register (ops)."""

    @checks.command("words")
    @click.option("--all", "include_removed", is_flag=True, help="含已删除的 / include removed")
    @click.option("--starter", is_flag=True, help="含内置词条 / include the starter entries")
    @json_option
    @pass_cli
    def words(cli: Cli, include_removed: bool, starter: bool, as_json: bool) -> None:
        """列出词库 / list the dictionary."""
        service = cli.runtime().check_service
        version, rows = service.words(include_removed=include_removed)
        builtin = list(service.starter.values()) if starter else []
        if as_json:
            emit_json(
                {
                    "version": version,
                    "entries": rows,
                    "starter": [
                        {"term": t.term, "kind": t.kind.value, "suggestion": t.suggestion} for t in builtin
                    ],
                }
            )
            return
        click.echo(f"词库版本 v{version}；内置 {len(service.starter)} 条，运维增改 {len(rows)} 条")
        table(
            ["词条", "类型", "建议", "级别", "版本", "操作人"],
            [
                [
                    r["term"],
                    r["kind"],
                    r["suggestion"] or "",
                    r["severity"] or "默认",
                    f"v{r['added_version']}" + (f"→v{r['removed_version']}" if r["removed_version"] else ""),
                    r["created_by"],
                ]
                for r in rows
            ]
            + [
                [t.term, t.kind.value, t.suggestion or "", t.effective_severity.value, "内置", ""]
                for t in builtin
            ],
        )

    @checks.group("word")
    def word() -> None:
        """增删词条 / add or remove dictionary entries."""

    @word.command("add")
    @click.argument("term")
    @click.option("--kind", required=True, type=click.Choice(["wrong", "normative", "forbidden", "allow"]))
    @click.option("--suggest", "suggestion", help="正确或规范的写法 / the right form")
    @click.option(
        "--severity", type=click.Choice([s.value for s in Severity]), help="默认按类型 / default by kind"
    )
    @click.option("--note", help="说明或来源 / note or source")
    @as_option
    @json_option
    @pass_cli
    def word_add(
        cli: Cli,
        term: str,
        kind: str,
        suggestion: str | None,
        severity: str | None,
        note: str | None,
        as_user: str | None,
        as_json: bool,
    ) -> None:
        """添加（或替换）词条 / add or replace an entry."""
        actor = cli.actor(as_user)
        out = cli.runtime().check_service.add_term(
            actor, term, kind, suggestion=suggestion, severity=severity, note=note
        )
        emit_json(out) if as_json else click.echo(f"已添加“{term}”，词库版本 v{out['version']}")

    @word.command("remove")
    @click.argument("term")
    @as_option
    @json_option
    @pass_cli
    def word_remove(cli: Cli, term: str, as_user: str | None, as_json: bool) -> None:
        """删除词条；内置词条则停用 / remove an entry (a starter entry is switched off)."""
        actor = cli.actor(as_user)
        out = cli.runtime().check_service.remove_term(actor, term)
        emit_json(out) if as_json else click.echo(f"已删除“{term}”，词库版本 v{out['version']}")

    @checks.command("words-import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @as_option
    @pass_cli
    def words_import(cli: Cli, path: Path, as_user: str | None) -> None:
        """从文件批量添加词条（格式同内置词库）/ add entries from a file in the starter's format."""
        actor = cli.actor(as_user)
        try:
            terms = read_tsv(path, source=path.name)
        except DictionaryError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"已添加 {cli.runtime().check_service.import_terms(actor, terms)} 条 / entries added")

    @checks.command("people")
    @click.option("--all", "include_removed", is_flag=True, help="含已删除的 / include removed")
    @json_option
    @pass_cli
    def people(cli: Cli, include_removed: bool, as_json: bool) -> None:
        """列出姓名职务登记簿 / list the names and titles register."""
        version, rows = cli.runtime().check_service.people(include_removed=include_removed)
        if as_json:
            emit_json({"version": version, "entries": rows})
            return
        click.echo(f"登记簿版本 v{version}，{len(rows)} 条")
        table(
            ["id", "姓名", "职务", "起", "止", "版本"],
            [
                [
                    str(r["id"]),
                    r["name"],
                    r["title"],
                    r["valid_from"],
                    r["valid_to"] or "至今",
                    f"v{r['added_version']}" + (f"→v{r['removed_version']}" if r["removed_version"] else ""),
                ]
                for r in rows
            ],
        )

    @checks.group("person")
    def person() -> None:
        """登记或删除任职 / add or remove a register entry."""

    @person.command("add")
    @click.argument("name")
    @click.option("--title", required=True, help="职务，如 局长 / the title")
    @click.option("--from", "valid_from", required=True, metavar="YYYY-MM-DD", help="任职起 / held from")
    @click.option("--to", "valid_to", metavar="YYYY-MM-DD", help="任职止（空则至今）/ held until")
    @click.option("--note", help="说明 / note")
    @as_option
    @json_option
    @pass_cli
    def person_add(
        cli: Cli,
        name: str,
        title: str,
        valid_from: str,
        valid_to: str | None,
        note: str | None,
        as_user: str | None,
        as_json: bool,
    ) -> None:
        """登记一人任某职务的起止日期 / register a title a person held and when."""
        actor = cli.actor(as_user)
        start = parse_date(valid_from, "valid_from")
        end = parse_date(valid_to, "valid_to") if valid_to else None
        out = cli.runtime().check_service.add_person(actor, name, title, start, end, note)
        emit_json(out) if as_json else click.echo(
            f"已登记 #{out['id']} {name} {title}，登记簿版本 v{out['version']}"
        )

    @person.command("remove")
    @click.argument("entry_id", type=click.IntRange(1, 2**62))
    @as_option
    @pass_cli
    def person_remove(cli: Cli, entry_id: int, as_user: str | None) -> None:
        """删除一条登记 / remove a register entry."""
        actor = cli.actor(as_user)
        out = cli.runtime().check_service.remove_person(actor, entry_id)
        click.echo(f"已删除 #{entry_id}，登记簿版本 v{out['version']}")
