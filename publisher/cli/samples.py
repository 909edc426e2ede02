"""`publisher load-samples`: the sample items through the whole workflow."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from publisher.cli.common import (
    SAMPLE_USERS,
    SAMPLES,
    SUMMARY_HEADERS,
    Cli,
    Fail,
    clip,
    describe,
    emit_json,
    items_of,
    json_option,
    pass_cli,
    read_json,
    summary_row,
    table,
)
from publisher.domain.errors import (
    PublisherError,
)
from publisher.domain.item import Role
from publisher.editorial.auth import SYSTEM, Actor, actor_of
from publisher.runtime import Runtime


# -- samples ----------------------------------------------------------------------------------------
@click.command("load-samples")
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    help=f"默认 / default: {SAMPLES.relative_to(SAMPLES.parents[2])}",
)
@json_option
@pass_cli
def load_samples(cli: Cli, source: TextIO | None, as_json: bool) -> None:
    """载入样例信息并走完审批流程（已有 ref 跳过）/ load the sample items through the whole workflow.

    Creates the users sample-editor, sample-reviewer and sample-approver when missing; each
    item is created, submitted, reviewed and approved; a release group is approved together.
    Items whose ref already exists are skipped, so a second run changes nothing.
    """
    if source is None:
        with SAMPLES.open(encoding="utf-8") as fh:
            records = items_of(read_json(fh))
    else:
        records = items_of(read_json(source))
    runtime = cli.runtime(migrate=True)
    out = sys.stderr if as_json else None
    report = SampleLoader(runtime, out).run(records)
    if as_json:
        emit_json(report)
    else:
        click.echo("")
        table(SUMMARY_HEADERS, [summary_row(d) for d in report["items"]])
        click.echo(
            f"共 {len(records)} 条：新载入 {len(report['loaded'])}，跳过 {len(report['skipped'])}，"
            f"失败 {len(report['failed'])} / {len(report['loaded'])} loaded, {len(report['skipped'])} skipped, "
            f"{len(report['failed'])} failed"
        )
    if report["failed"]:
        cli.ctx.exit(2)


class SampleLoader:
    def __init__(self, runtime: Runtime, out: TextIO | None) -> None:
        self.runtime = runtime
        self.service = runtime.service
        self.out = out

    def say(self, text: str) -> None:
        click.echo(text, file=self.out)

    def users(self) -> dict[Role, Actor]:
        actors: dict[Role, Actor] = {}
        for name, role in SAMPLE_USERS:
            user = self.service.user_by_name(name)
            if user is None:
                actor, token = self.service.add_user(name, role.value)
                self.say(f"已创建示例用户 / created user {name}（{role.value}）令牌 / token: {token}")
            else:
                actor = actor_of(user)
                if actor.role not in (role, Role.ADMIN):
                    raise Fail(
                        f"用户 {name} 的角色是 {actor.role.value}，应为 {role.value} / {name} has the wrong role"
                    )
            actors[role] = actor
        return actors

    def run(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        actors = self.users()
        editor, reviewer, approver = actors[Role.EDITOR], actors[Role.REVIEWER], actors[Role.APPROVER]
        refs = [str(r["ref"]) for r in records if r.get("ref")]
        existing = self.service.existing_refs(refs)
        # members of each release group still to load: the group is approved with the last one
        waiting: dict[str, list[str]] = {}
        for r in records:
            if r.get("release_group") and r.get("ref") not in existing:
                waiting.setdefault(str(r["release_group"]), []).append(str(r.get("ref")))
        loaded: list[str] = []
        skipped: list[str] = []
        failed: list[dict[str, Any]] = []
        uids: list[str] = []
        total = len(records)
        for n, data in enumerate(records, 1):
            ref = data.get("ref")
            head = f"[{n}/{total}] {ref or '(无 ref)'}"
            if ref in existing:
                skipped.append(str(ref))
                uids.append(self.service.uid_of(str(ref)))
                self.say(f"{head}  已存在，跳过 / exists, skipped")
                continue
            try:
                # a legacy 索取号 in the fixtures is imported, as an admin does, never typed in
                legacy = data.pop("index_number", None) if isinstance(data, dict) else None
                created = self.service.create_item(editor, data)
                if legacy:
                    self.service.import_index_number(SYSTEM, created.uid, str(legacy))
                uids.append(created.uid)
                self.service.submit(editor, created.uid)
                self.service.review(reviewer, created.uid)
                group = created.release_group
                if group and group in waiting:
                    waiting[group].remove(str(ref))
                    if waiting[group]:
                        self.say(
                            f"{head}  已审查，待与发布组 {group} 一并批准 / reviewed, awaiting its release group"
                        )
                        loaded.append(str(ref))
                        continue
                outcome = self.service.approve(approver, created.uid)
                loaded.append(str(ref))
                detail = self.service.item_detail(created.uid)
                note = f"，发布组 {group} 共 {len(outcome.items)} 条一并批准" if group else ""
                abolished = detail["content"].get("abolishes") or []
                if abolished:
                    note += f"，废止 {len(abolished)} 条 / abolishes {len(abolished)}"
                self.say(
                    f"{head}  已发布 / published  {detail.get('index_number') or ''}"
                    f"  《{clip(detail['title'], 36)}》{note}"
                )
            except PublisherError as exc:
                failed.append({"ref": ref, "error": describe(exc)})
                self.say(f"{head}  失败 / failed: {describe(exc)}")
        items = [self.service.item_detail(u) for u in uids]
        return {"loaded": loaded, "skipped": skipped, "failed": failed, "items": items}
