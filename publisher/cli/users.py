"""`publisher user`: users, their roles, tokens and passwords.

`user add` is the host operator's (it makes the first accounts, audited as "system", or as
the secadmin named with --as). Everything else is the security administrator's, named with
--as: the editorial service checks the permission and audits the change. Passwords are never
taken as an argument (shell history, `ps`): they are prompted for without echo, or read from
standard input with --password-stdin."""

from __future__ import annotations

import sys

import click

from publisher.cli.common import Cli, Fail, as_option, emit_json, json_option, pass_cli
from publisher.domain.item import Role

ROLE_CHOICE = click.Choice([r.value for r in Role])


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise Fail("标准输入中没有密码 / no password on standard input")
        return password
    value: str = click.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    return value


def _user_line(data: dict[str, object]) -> str:
    state = "启用 / active" if data["active"] else "停用 / disabled"
    return f"{data['name']}（{data['role']}）{state}"


# -- users ------------------------------------------------------------------------------------------
@click.group()
def user() -> None:
    """用户、角色、令牌与密码 / users, roles, tokens and passwords."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=ROLE_CHOICE, help="角色 / role")
@click.option(
    "--password", "ask", is_flag=True, help="设置网页登录密码（提示输入，不回显）/ prompt for a password"
)
@click.option(
    "--password-stdin", "from_stdin", is_flag=True, help="从标准输入读取密码 / read the password from stdin"
)
@as_option
@json_option
@pass_cli
def user_add(
    cli: Cli, name: str, role: str, ask: bool, from_stdin: bool, as_user: str | None, as_json: bool
) -> None:
    """新建用户并打印其令牌（只显示一次）/ add a user and print its token (shown once)."""
    password = _password(from_stdin) if ask or from_stdin else None
    by = cli.actor(as_user) if as_user else None
    actor, token = cli.runtime().service.add_user(name, role, password, by=by)
    if as_json:
        emit_json({"name": actor.name, "role": actor.role.value, "token": token})
        return
    click.echo(
        f"已创建用户 {actor.name}（{actor.role.value}）。令牌只显示这一次，请妥善保存 / token, shown once:"
    )
    click.echo(token)


@user.command("disable")
@click.argument("name")
@as_option
@pass_cli
def user_disable(cli: Cli, name: str, as_user: str | None) -> None:
    """停用用户：其会话与令牌立即失效 / disable a user: their sessions and token end at once."""
    data = cli.runtime().service.set_user_active(cli.actor(as_user), name, False)
    click.echo(f"已停用 / disabled: {_user_line(data)}")


@user.command("enable")
@click.argument("name")
@as_option
@pass_cli
def user_enable(cli: Cli, name: str, as_user: str | None) -> None:
    """重新启用用户 / enable a user again."""
    data = cli.runtime().service.set_user_active(cli.actor(as_user), name, True)
    click.echo(f"已启用 / enabled: {_user_line(data)}")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@as_option
@pass_cli
def user_set_role(cli: Cli, name: str, role: str, as_user: str | None) -> None:
    """更改角色：原令牌与会话立即失效，用 rotate-token 发新令牌 / change role; the old token and
    sessions end, rotate-token issues a new token."""
    data = cli.runtime().service.set_user_role(cli.actor(as_user), name, role)
    click.echo(f"角色已更改 / role changed: {_user_line(data)}")


@user.command("rotate-token")
@click.argument("name")
@as_option
@json_option
@pass_cli
def user_rotate_token(cli: Cli, name: str, as_user: str | None, as_json: bool) -> None:
    """更换令牌（旧令牌立即失效，新令牌只显示一次）/ a new token; the old one ends now."""
    token = cli.runtime().service.rotate_token(cli.actor(as_user), name)
    if as_json:
        emit_json({"name": name, "token": token})
        return
    click.echo(f"用户 {name} 的新令牌，只显示这一次 / new token, shown once:")
    click.echo(token)


@user.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", "from_stdin", is_flag=True, help="从标准输入读取密码 / read the password from stdin"
)
@as_option
@pass_cli
def user_passwd(cli: Cli, name: str, from_stdin: bool, as_user: str | None) -> None:
    """设置密码（至少 12 个字符，不能是用户名）；其网页会话结束 / set a password (12+ characters,
    not the name); the user's page sessions end."""
    by = cli.actor(as_user)
    cli.runtime().service.set_password(by, name, _password(from_stdin))
    click.echo(f"已设置用户 {name} 的密码 / password set")
