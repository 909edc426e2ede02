"""`publisher serve` and `publisher migrate`: run the service, create or upgrade the schema."""

from __future__ import annotations

import click

from publisher.cli.common import (
    Cli,
    pass_cli,
)
from publisher.runtime import Runtime, attach_executor
from publisher.runtime import migrate as run_migrations


def start_executor(runtime: Runtime) -> None:
    """EXECUTOR SPOT: picks the embedded executor (or Celery when a broker is configured)
    and wires its wake-ups; `serve` then calls runtime.start() and, at exit, runtime.close()."""
    attach_executor(runtime)


@click.command()
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

    from publisher.web import create_app

    if not cli.settings.public_base_url_given:
        # No public address configured: links in pages and feeds point where we listen.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        cli.use_settings(cli.settings.replace(public_base_url=f"http://{shown}:{port}"))
    runtime = cli.runtime(migrate=True)
    start_executor(runtime)
    runtime.start()
    click.echo(
        f"publisher 正在监听 / listening on http://{host}:{port}  (数据库 / database: {_safe_url(runtime.settings.db_url)})"
    )
    # alerts need no shutdown step: they are rows in the store, sent by the alert clock
    uvicorn.run(create_app(runtime), host=host, port=port, log_level=log_level)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command()
@pass_cli
def migrate(cli: Cli) -> None:
    """建库或升级数据库结构 / create or upgrade the database schema."""
    revision = run_migrations(cli.settings)
    click.echo(f"数据库结构已是最新 / schema at head: {revision}  ({_safe_url(cli.settings.db_url)})")
