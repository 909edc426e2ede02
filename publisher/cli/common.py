"""What the command modules share: errors as messages and exit codes, the per-invocation
`Cli` object (settings, runtime, acting user), options, JSON and plain-text tables.

Commands call the runtime's services (`cli.runtime().service`, `.deliveries`, `.compliance`)
and never open a database session themselves.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from sqlalchemy.exc import OperationalError

from publisher.domain.errors import (
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    PublisherError,
    TransitionError,
    ValidationError,
)
from publisher.domain.item import ITEM_TYPE_LABELS, ItemState, ItemType, Role
from publisher.editorial.auth import Actor, actor_of
from publisher.editorial.checks.problem import Problem, problem_text
from publisher.editorial.service import OVERALL_LABELS
from publisher.editorial.workflow import STATE_LABELS
from publisher.runtime import Runtime, build_runtime, schema_revisions
from publisher.settings import Settings, SettingsError, load_settings

SAMPLES = Path(__file__).parents[1] / "data" / "items.json"
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

    def use_settings(self, settings: Settings) -> None:
        """Replace the settings before the runtime is built (serve's own address)."""
        if self._runtime is not None:
            raise RuntimeError("the runtime is already built")
        self._settings = settings

    def runtime(self, *, migrate: bool = False) -> Runtime:
        if self._runtime is None:
            if not migrate:
                check_schema(self.settings)
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
        return self.runtime().service.uid_of(uid_or_ref)


def check_schema(settings: Settings) -> None:
    current, head = schema_revisions(settings)
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
        ("印发日期 / issue date", d.get("issue_date")),
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


def parse_date(value: str, field: str = "date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.one(field, "日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD") from None
