"""The `publisher` command: run the service, manage users and items, load samples, verify the audit log.

The CLI works on the store directly, through the same `Service` the API uses, acting as the
user named by `--as NAME` (or PUBLISHER_USER): roles and maker-checker apply exactly as on
the API. Bad input, a refused transition or a missing permission print a clear message on
stderr and exit with 2; a broken audit chain exits with 1. Unexpected errors are bugs and
keep their traceback.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from publisher.domain.errors import (
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    PublisherError,
    TransitionError,
    ValidationError,
)
from publisher.domain.item import ITEM_TYPE_LABELS, DeliveryState, ItemState, ItemType, Role, Validity
from publisher.editorial.auth import Actor, actor_of
from publisher.editorial.checks.problem import Problem, problem_text
from publisher.editorial.service import OVERALL_LABELS
from publisher.editorial.workflow import STATE_LABELS
from publisher.runtime import Runtime, attach_executor, build_runtime
from publisher.settings import Settings, SettingsError, load_settings
from publisher.store.models import Item

SAMPLES = Path(__file__).parent / "data" / "items.json"
SAMPLE_USERS = (
    ("sample-editor", Role.EDITOR),
    ("sample-reviewer", Role.REVIEWER),
    ("sample-approver", Role.APPROVER),
)

F = TypeVar("F", bound=Callable[..., Any])


class Fail(click.ClickException):
    """A user error: message on stderr, exit code 2, no traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def describe(exc: PublisherError) -> str:
    if isinstance(exc, ValidationError):
        lines = ["输入有误 / invalid input:"] + [
            f"  - {problem_text(e)} [{e.rule}]" if isinstance(e, Problem) else f"  - {e.field}: {e.message}"
            for e in exc.errors
        ]
        return "\n".join(lines)
    if isinstance(exc, TransitionError):
        return f"操作被拒绝 / refused: {exc.message}（当前状态 / current state: {exc.current_state}）"
    if isinstance(exc, PermissionDeniedError):
        return f"无权操作 / permission denied: {exc.message}"
    if isinstance(exc, NotFoundError | AuthError):
        return exc.message
    return f"错误 / error: {exc.message}"


class PublisherGroup(click.Group):
    """Turns our errors into messages and exit code 2 for every command below it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PublisherError as exc:
            raise Fail(describe(exc)) from exc
        except SettingsError as exc:
            raise Fail(f"配置有误 / configuration error: {exc}") from exc
        except OperationalError as exc:
            raise Fail(f"无法访问数据库 / database unavailable: {exc.orig or exc}") from exc


class Cli:
    """What the commands share: settings, the runtime (built once, closed at exit), the actor."""

    def __init__(self, ctx: click.Context, config: str | None) -> None:
        self.ctx = ctx
        self.config = config
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(path=self.config)
        return self._settings

    def runtime(self, *, migrate: bool = False) -> Runtime:
        if self._runtime is None:
            if not migrate:
                check_schema(self.settings.db_url)
            self._runtime = build_runtime(self.settings, migrate=migrate)
            self.ctx.call_on_close(self._runtime.close)
        return self._runtime

    def actor(self, name: str | None) -> Actor:
        if not name:
            raise Fail(
                "请用 --as NAME 或环境变量 PUBLISHER_USER 指定操作人 / name the acting user with --as or PUBLISHER_USER"
            )
        user = self.runtime().service.user_by_name(name)
        if user is None or not user.active:
            raise Fail(f"用户 {name} 不存在或已停用 / no active user {name!r}")
        return actor_of(user)

    def uid(self, uid_or_ref: str) -> str:
        """Commands take an item's uid or its ref (e.g. policy-2019-plan)."""
        with self.runtime().db.reader() as s:
            found = (
                s.execute(select(Item.uid).where((Item.uid == uid_or_ref) | (Item.ref == uid_or_ref)))
                .scalars()
                .first()
            )
        if found is None:
            raise NotFoundError(f"未找到信息 {uid_or_ref} / item not found")
        return found


def check_schema(url: str) -> None:
    from alembic.script import ScriptDirectory

    from publisher.store.migrate import alembic_config, current_revision

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    current = current_revision(url)
    if current != head:
        state = (
            "尚未初始化 / not initialised"
            if current is None
            else f"版本 {current}，应为 {head} / at {current}, not {head}"
        )
        raise Fail(f"数据库{state}。请先运行 `publisher migrate` / run `publisher migrate` first")


def pass_cli(f: F) -> F:
    return click.pass_obj(f)  # type: ignore[return-value]


def as_option(f: F) -> F:
    return click.option(
        "--as",
        "as_user",
        envvar="PUBLISHER_USER",
        metavar="NAME",
        help="操作人（用户名）/ acting user [env PUBLISHER_USER]",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="输出 JSON / print JSON")(f)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# -- plain-text tables (CJK characters are two columns wide) ------------------------------------
def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, limit: int) -> str:
    if width(text) <= limit:
        return text
    out = ""
    for c in text:
        if width(out + c) > limit - 1:
            break
        out += c
    return out + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    click.echo(line(headers), file=out)
    click.echo("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        click.echo(line(r), file=out)


def state_label(state: str) -> str:
    try:
        return STATE_LABELS[ItemState(state)]
    except ValueError:
        return state


def type_label(kind: str) -> str:
    try:
        return ITEM_TYPE_LABELS[ItemType(kind)]
    except ValueError:
        return kind


def summary_row(d: dict[str, Any]) -> list[str]:
    return [
        d["uid"],
        d.get("ref") or "",
        type_label(d["type"]),
        state_label(d["state"]),
        d["validity"],
        d.get("index_number") or "",
        OVERALL_LABELS.get(d["delivery_status"], d["delivery_status"]),
        clip(d["title"], 40),
    ]


SUMMARY_HEADERS = ["uid", "ref", "类型", "状态", "有效性", "索取号", "发布", "标题"]


def show_detail(d: dict[str, Any], deliveries: list[dict[str, Any]]) -> None:
    click.echo(f"《{d['title']}》")
    fields = [
        ("uid", d["uid"]),
        ("ref", d.get("ref")),
        ("类型 / type", f"{type_label(d['type'])} ({d['type']})"),
        ("状态 / state", f"{state_label(d['state'])} ({d['state']})"),
        ("有效性 / validity", d["validity"]),
        ("文号 / doc number", d.get("doc_number")),
        ("索取号 / index number", d.get("index_number")),
        ("发文机关 / issuing body", d.get("issuing_body")),
        ("成文日期 / issue date", d.get("issue_date")),
        ("主题分类 / subject", d.get("subject")),
        ("发布组 / release group", d.get("release_group")),
        ("发布时间 / published at", d.get("published_at")),
        ("发布状态 / delivery", OVERALL_LABELS.get(d["delivery_status"], d["delivery_status"])),
        ("退回理由 / rejected", d.get("reject_reason")),
        ("撤回理由 / withdrawn", d.get("withdraw_reason")),
        ("废止依据 / abolished by", d.get("abolished_by")),
    ]
    pad = max(width(k) for k, _ in fields)
    for key, value in fields:
        if value:
            click.echo(f"  {key}{' ' * (pad - width(key))}  {value}")
    if d.get("versions"):
        click.echo("版本 / versions:")
        for v in d["versions"]:
            click.echo(f"  v{v['number']}  {v['reason']:<8} {v['created_at'][:19]}  {v['content_hash'][:12]}")
    if deliveries:
        click.echo("投递 / deliveries:")
        table(
            ["id", "渠道", "操作", "版本", "状态", "尝试", "错误"],
            [
                [
                    str(x["id"]),
                    x["channel"],
                    x["operation"],
                    f"v{x['version']}",
                    x["state"],
                    str(x["attempts"]),
                    clip(x["last_error"] or "", 40),
                ]
                for x in deliveries
            ],
        )


def read_json(source: TextIO) -> Any:
    name = getattr(source, "name", "-")
    try:
        return json.load(source)
    except json.JSONDecodeError as exc:
        raise Fail(
            f"{name}: JSON 格式错误，第 {exc.lineno} 行第 {exc.colno} 列 / malformed JSON: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise Fail(f"{name}: 文件须为 UTF-8 编码 / the file must be UTF-8") from exc


def items_of(data: Any) -> list[dict[str, Any]]:
    """An item object, a list of them, or the fixtures' {"items": [...]}."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise ValidationError.one(
            "body", '应为一个信息对象、对象列表或 {"items": [...]} / expected an item object or a list'
        )
    return data


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.one("date", "日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD") from None


# -- the commands -----------------------------------------------------------------------------------
@click.group(cls=PublisherGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="配置文件（设置 PUBLISHER_CONFIG）/ settings file (sets PUBLISHER_CONFIG)",
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """publisher：一次发布，多渠道投递 / publish once, deliver everywhere.

    \b
    起步 / getting started:
      publisher migrate                         建库 / create the schema
      publisher load-samples                    载入样例信息 / load the sample items
      publisher user add alice --role editor    新建用户并打印令牌 / add a user, print the token
      publisher serve                           启动服务 / run the web service and the executor

    \b
    设置 / settings: PUBLISHER_CONFIG (TOML), PUBLISHER_DATABASE_URL, PUBLISHER_DATA_DIR, …
    """
    if config:
        if not Path(config).is_file():
            raise Fail(f"配置文件不存在 / config file not found: {config}")
        # later load_settings() calls anywhere in this process (alembic env, executor) see it too
        os.environ["PUBLISHER_CONFIG"] = config
    ctx.obj = Cli(ctx, config)


def start_executor(runtime: Runtime) -> None:
    """EXECUTOR SPOT: picks the embedded executor (or Celery when a broker is configured)
    and wires its wake-ups; `serve` then calls runtime.start() and, at exit, runtime.close()."""
    attach_executor(runtime)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址 / bind address")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="端口 / port")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@pass_cli
def serve(cli: Cli, host: str, port: int, log_level: str) -> None:
    """迁移数据库并启动 Web 服务与投递执行器 / migrate, then run the web service and the executor."""
    import uvicorn

    from publisher.observe import alerts
    from publisher.web import create_app

    runtime = cli.runtime(migrate=True)
    start_executor(runtime)
    alerter = alerts.install(runtime)  # None when [alerts] names no target
    runtime.start()
    click.echo(
        f"publisher 正在监听 / listening on http://{host}:{port}  (数据库 / database: {_safe_url(runtime.settings.db_url)})"
    )
    try:
        uvicorn.run(create_app(runtime), host=host, port=port, log_level=log_level)
    finally:
        if alerter is not None:
            alerts.uninstall(alerter)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@pass_cli
def migrate(cli: Cli) -> None:
    """建库或升级数据库结构 / create or upgrade the database schema."""
    from publisher.store.migrate import current_revision, upgrade

    url = cli.settings.db_url
    upgrade(url)
    click.echo(f"数据库结构已是最新 / schema at head: {current_revision(url)}  ({_safe_url(url)})")


# -- users ------------------------------------------------------------------------------------------
@main.group()
def user() -> None:
    """用户与令牌 / users and tokens."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="角色 / role")
@click.option(
    "--password",
    prompt="密码 / password",
    prompt_required=False,
    hide_input=True,
    confirmation_prompt=True,
    default=None,
    help="网页登录密码（不给值则提示输入）/ password for the pages",
)
@json_option
@pass_cli
def user_add(cli: Cli, name: str, role: str, password: str | None, as_json: bool) -> None:
    """新建用户并打印其令牌（只显示一次）/ add a user and print its token (shown once)."""
    actor, token = cli.runtime().service.add_user(name, role, password or None)
    if as_json:
        emit_json({"name": actor.name, "role": actor.role.value, "token": token})
        return
    click.echo(
        f"已创建用户 {actor.name}（{actor.role.value}）。令牌只显示这一次，请妥善保存 / token, shown once:"
    )
    click.echo(token)


# -- items ------------------------------------------------------------------------------------------
@main.group()
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


def _approve(cli: Cli, actor: Actor, uid: str) -> list[str]:
    outcome = cli.runtime().service.approve(actor, uid)
    return [m.uid for m in outcome.items] or [uid]


_transition("submit", "提交保密审查（编辑）/ submit for review (editor).", _simple("submit"))
_transition("review", "保密审查通过（审查员）/ confidentiality review passed (reviewer).", _simple("review"))
_transition(
    "approve",
    "批准发布，发布组一并批准（批准人，非作者）/ approve; a release group together (approver, not the author).",
    _approve,
)


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


# -- samples ----------------------------------------------------------------------------------------
@main.command("load-samples")
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

    def existing_refs(self, refs: list[str]) -> set[str]:
        with self.runtime.db.reader() as s:
            return {r for r in s.execute(select(Item.ref).where(Item.ref.in_(refs))).scalars() if r}

    def run(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        actors = self.users()
        editor, reviewer, approver = actors[Role.EDITOR], actors[Role.REVIEWER], actors[Role.APPROVER]
        refs = [str(r["ref"]) for r in records if r.get("ref")]
        existing = self.existing_refs(refs)
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
                uids.append(self.runtime_uid(str(ref)))
                self.say(f"{head}  已存在，跳过 / exists, skipped")
                continue
            try:
                created = self.service.create_item(editor, data)
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

    def runtime_uid(self, ref: str) -> str:
        with self.runtime.db.reader() as s:
            return str(s.execute(select(Item.uid).where(Item.ref == ref)).scalar_one())


# -- deliveries (ops) -------------------------------------------------------------------------------
def _operator(cli: Cli, as_user: str | None) -> Actor:
    actor = cli.actor(as_user)
    actor.require(Role.OPS)
    return actor


@main.command("deliveries")
@click.option("--state", type=click.Choice([s.value for s in DeliveryState]), help="状态 / state")
@click.option("--channel", help="渠道 / channel, e.g. cms or webhook.archive")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@pass_cli
def deliveries(cli: Cli, state: str | None, channel: str | None, limit: int, as_json: bool) -> None:
    """投递列表，如 --state failed / list deliveries, e.g. the failed queue."""
    total, rows = cli.runtime().service.list_deliveries(state=state, channel=channel, limit=limit)
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


@main.command("replay")
@click.argument("delivery_id", type=click.IntRange(1))
@as_option
@pass_cli
def replay(cli: Cli, delivery_id: int, as_user: str | None) -> None:
    """重放一条失败的投递 / replay one failed delivery (the running service sends it)."""
    actor = _operator(cli, as_user)
    if not cli.runtime().engine.replay(delivery_id, actor.name):
        raise Fail(
            f"投递 {delivery_id} 不存在或不是失败状态 / delivery {delivery_id} is not a failed delivery"
        )
    click.echo(f"已重新排队 / queued again: {delivery_id}")


@main.command("replay-failed")
@click.argument("channel")
@click.option("--since", type=click.DateTime(), help="失败时间不早于（UTC）/ failed at or after (UTC)")
@click.option("--until", type=click.DateTime(), help="失败时间不晚于（UTC）/ failed at or before (UTC)")
@as_option
@pass_cli
def replay_failed(cli: Cli, channel: str, since: Any, until: Any, as_user: str | None) -> None:
    """重放某渠道在时间窗内的全部失败投递 / replay every failed delivery of a channel in a window."""
    actor = _operator(cli, as_user)
    utc = [None if t is None else t.replace(tzinfo=UTC) for t in (since, until)]
    ids = cli.runtime().engine.replay_failed(channel, actor.name, utc[0], utc[1])
    click.echo(f"已重新排队 {len(ids)} 条 / queued again: {len(ids)}")


@main.command("retry-now")
@click.argument("channel")
@as_option
@pass_cli
def retry_now(cli: Cli, channel: str, as_user: str | None) -> None:
    """让渠道中等待重试的投递立即到期（如配额已恢复）/ make a channel's waiting retries due now."""
    actor = _operator(cli, as_user)
    ids = cli.runtime().engine.retry_now(channel, actor.name)
    click.echo(f"已提前 {len(ids)} 条 / due now: {len(ids)}")


@main.group()
def channel() -> None:
    """渠道：状态、暂停与恢复 / channels: state, pause and resume."""


@channel.command("list")
@json_option
@pass_cli
def channel_list(cli: Cli, as_json: bool) -> None:
    """各渠道状态 / every channel's state and delivery counts."""
    service = cli.runtime().service
    rows = [service.channel_status(n) for n in service.channel_names()]
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
    actor = _operator(cli, as_user)
    cli.runtime().engine.pause(name, reason, actor.name)
    click.echo(f"已暂停 / paused: {name}")


@channel.command("resume")
@click.argument("name")
@as_option
@pass_cli
def channel_resume(cli: Cli, name: str, as_user: str | None) -> None:
    """恢复渠道并放行被挂起的投递 / resume and release its held deliveries."""
    actor = _operator(cli, as_user)
    released = cli.runtime().engine.resume(name, actor.name)
    click.echo(f"已恢复 / resumed: {name}，放行 {len(released)} 条 / released {len(released)}")


# -- reconciliation -------------------------------------------------------------------------------
@main.command("reconcile")
@click.option(
    "--channel", "names", multiple=True, help="只核对这些渠道（可多次）/ only these channels (repeatable)"
)
@click.option("--strict", is_flag=True, help="尚未送达也算问题 / count deliveries still pending as problems")
@json_option
@pass_cli
def reconcile_cmd(cli: Cli, names: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """核对各渠道实际内容与投递账本 / compare what every channel holds with the ledger (exit 1 on mismatch)."""
    from publisher.delivery.reconcile import reconcile

    runtime = cli.runtime()
    reports = reconcile(runtime.db, runtime.channels, list(names) or runtime.settings.enabled_channels())
    bad = sum(len(r.findings if strict else r.problems) for r in reports)
    if as_json:
        emit_json({"ok": bad == 0, "channels": [r.as_dict() for r in reports]})
    else:
        for r in reports:
            if not r.listed:
                click.echo(f"{r.channel}: 未核对 / not checked — {r.error}")
                continue
            click.echo(
                f"{r.channel}: 应在线 {r.expected_live}，实际在线 {r.held_live}，问题 {len(r.problems)}"
                f" / expected live {r.expected_live}, live {r.held_live}, problems {len(r.problems)}"
            )
            for f in r.findings:
                click.echo(f"  - [{f.problem}] {f.uid}: {f.detail}")
        click.echo("一致 / consistent" if bad == 0 else f"发现 {bad} 处不一致 / {bad} mismatches")
    if bad:
        cli.ctx.exit(1)


# -- audit ------------------------------------------------------------------------------------------
@main.group()
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


# -- compliance (issue #9): calendar, deadlines, inspection, catalogue, applications, annual figures --
# Thin commands over publisher.compliance; the web router publisher.compliance.routes offers the same.
def _compliance_now() -> Any:
    from publisher.domain.clock import utcnow

    return utcnow()


@main.group("calendar")
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
    from publisher.compliance import compliance_settings
    from publisher.compliance.calendar import parse_schedule
    from publisher.compliance.deadlines import load_calendar

    actor = cli.actor(as_user)
    actor.require(Role.OPS)
    schedule = parse_schedule(read_json(source))
    with cli.runtime().db.transaction() as s:
        changed = load_calendar(
            s, schedule, by=actor.name, now=_compliance_now(), config=compliance_settings(cli.settings)
        )
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
    from publisher.compliance.calendar import WorkCalendar

    with cli.runtime().db.reader() as s:
        data = WorkCalendar.from_store(s).describe(year)
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"{year} 年 · 来源 / source: {data['source']}{'（暂定 / provisional）' if data['provisional'] else ''}"
    )
    click.echo("放假（工作日中）/ holidays on weekdays: " + ", ".join(data["holidays"]))
    click.echo("调休上班 / make-up working days: " + (", ".join(data["workdays"]) or "—"))


@main.group("compliance")
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
    from publisher.compliance import compliance_settings, deadlines

    with cli.runtime().db.reader() as s:
        rows = [
            d.as_dict()
            for d in deadlines(s, _compliance_now(), compliance_settings(cli.settings))
            if status is None or d.status == status
        ]
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
    from publisher.compliance import compliance_settings, overdue

    with cli.runtime().db.reader() as s:
        rows = [d.as_dict() for d in overdue(s, _compliance_now(), compliance_settings(cli.settings))]
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
    from publisher.compliance import run_checks

    cli.actor(as_user).require(Role.OPS)
    with cli.runtime().db.transaction() as s:
        result = run_checks(s, cli.settings, _compliance_now())
    data = {
        "deadlines": [d.as_dict() for d in result.deadlines],
        "inspection": [w.as_dict() for w in result.inspection],
        "reminders_added": result.reminders_added,
    }
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"时限预警 {len(result.deadlines)} 条，栏目预警 {len(result.inspection)} 条，新增提醒 "
        f"{result.reminders_added} 条 / {len(result.deadlines)} deadlines, {len(result.inspection)} columns at "
        f"risk, {result.reminders_added} reminders added"
    )


@compliance_group.command("inspection")
@json_option
@pass_cli
def compliance_inspection(cli: Cli, as_json: bool) -> None:
    """各渠道各栏目最新信息的时长 / age of the newest item per channel and column."""
    from publisher.compliance import compliance_settings, inspection_status

    with cli.runtime().db.reader() as s:
        rows = [
            w.as_dict()
            for w in inspection_status(s, cli.settings, _compliance_now(), compliance_settings(cli.settings))
        ]
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
    from publisher.compliance.catalogue import Filters, catalogue_rows, catalogue_table
    from publisher.compliance.tabular import render

    with cli.runtime().db.reader() as s:
        rows = catalogue_rows(
            s,
            _compliance_now(),
            cli.settings.public_base_url,
            Filters(type=type_, subject=subject, year=year),
        )
    Path(output).write_bytes(render(catalogue_table(rows, cli.settings.agency.name), fmt))
    click.echo(f"已导出 {len(rows)} 条到 {output} / exported {len(rows)} rows")


@compliance_group.command("annual")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--csv", "as_csv", is_flag=True, help="输出 CSV / print CSV")
@json_option
@pass_cli
def compliance_annual(cli: Cli, year: int, as_csv: bool, as_json: bool) -> None:
    """年度报告数据 / the year's figures for the annual report."""
    from publisher.compliance.annual import annual_figures, figures_table
    from publisher.compliance.tabular import to_csv

    with cli.runtime().db.reader() as s:
        figures = annual_figures(s, year, _compliance_now(), cli.settings.public_base_url)
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
    from publisher.compliance.consultations import reminders

    with cli.runtime().db.reader() as s:
        rows = reminders(s, include_done=include_done)
    if as_json:
        emit_json(rows)
        return
    table(
        ["信息", "建议完成", "完成", "说明"],
        [[r["item"], r["due_on"] or "", r["done_by"] or "", clip(r["message"], 50)] for r in rows],
    )


@main.group("application")
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
    from publisher.compliance import applications

    actor = cli.actor(as_user)
    data = read_json(source)
    if not isinstance(data, dict):
        raise ValidationError.one("body", "应为一个申请对象 / expected one application object")
    with cli.runtime().db.transaction() as s:
        app = applications.record(s, actor, data)
        out = applications.as_json(s, app)
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
    from publisher.compliance import applications

    with cli.runtime().db.reader() as s:
        total, rows = applications.listing(s, limit=limit)
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
    from publisher.compliance import applications

    actor = cli.actor(as_user)
    opts: dict[str, Any] = {"reason": reason, "type": type_, "subject": subject}
    if title:
        opts["title"] = title
    with cli.runtime().db.transaction() as s:
        uid = applications.convert(s, cli.settings, actor, number, opts).uid
    if as_json:
        emit_json(cli.runtime().service.item_detail(uid))
    else:
        click.echo(f"已生成草稿 / draft created: {uid}")
        click.echo(uid)


def _register_checks() -> None:
    from publisher.cli_checks import register

    register(main, item)


_register_checks()  # `item check|accept` and `checks …` (publisher/cli_checks.py)

__all__ = ["main"]
