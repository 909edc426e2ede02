"""`publisher user`: users and their tokens."""

from __future__ import annotations

import click

from publisher.cli.common import (
    Cli,
    emit_json,
    json_option,
    pass_cli,
)
from publisher.domain.item import Role


# -- users ------------------------------------------------------------------------------------------
@click.group()
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
