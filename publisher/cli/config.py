"""`publisher config check [--live]`: the effective configuration, checked.

Prints the settings the service would run with (file, environment and defaults merged,
secrets masked), checks them — every problem with its file:line or variable, exit 2 — and
with `--live` tries each enabled channel's credentials and reachability (WordPress
authentication, a WeChat access token, a signed read of the city platform, a webhook
endpoint answering), one line per channel; exit 1 if any channel failed.
"""

from __future__ import annotations

import click

from publisher.cli.common import Cli, emit_json, json_option, pass_cli, table
from publisher.delivery.probe import check_live
from publisher.settings.show import effective, to_toml


@click.group()
def config() -> None:
    """配置：查看与检查 / the configuration: show and check."""


@config.command("check")
@click.option("--live", is_flag=True, help="在线检查各启用渠道的凭据与连通性 / try each enabled channel live")
@click.option("--channel", "names", multiple=True, help="只检查这些渠道（可多次）/ only these channels")
@json_option
@pass_cli
def check(cli: Cli, live: bool, names: tuple[str, ...], as_json: bool) -> None:
    """显示有效配置（密钥已隐藏）并检查；--live 在线检查各渠道 / show the effective settings
    (secrets masked) and check them; --live tries every enabled channel (exit 1 on a failure)."""
    settings = cli.settings  # loading checks everything: a problem exits 2, naming file:line and key
    source = str(settings.config_path) if settings.config_path else "内置默认值 / built-in defaults"
    probes = check_live(settings, list(names) or None) if live else []
    failed = [p for p in probes if p.ok is False]
    if as_json:
        emit_json(
            {
                "config_path": str(settings.config_path) if settings.config_path else None,
                "valid": True,
                "settings": effective(settings),
                "channels": [{"channel": p.channel, "ok": p.ok, "message": p.message} for p in probes],
            }
        )
    else:
        click.echo(f"# 有效配置（密钥已隐藏）/ effective configuration, secrets masked — {source}")
        click.echo(to_toml(effective(settings)))
        click.echo("")
        click.echo(
            f"配置有效 / configuration valid: 启用渠道 / enabled channels: {', '.join(settings.enabled_channels())}"
        )
        if live:
            click.echo("")
            table(
                ["渠道 / channel", "结果 / result", "说明 / detail"],
                [[p.channel, p.verdict, p.message] for p in probes],
            )
            if failed:
                click.echo(f"{len(failed)} 个渠道检查失败 / {len(failed)} channel(s) failed", err=True)
    if failed:
        cli.ctx.exit(1)
