"""The `publisher` command: run the service, manage users and items, load samples, operate
deliveries, check the configuration, verify the audit log.

One module per command group; `main` registers them all (the console script is
`publisher = "publisher.cli:main"`). The CLI acts as the user named by `--as NAME` (or
PUBLISHER_USER) through the same services the API uses, so roles and maker-checker apply
exactly as on the API; commands never open a database session themselves. Bad input, a
refused transition, a missing permission or a configuration error print a clear message on
stderr and exit with 2; a broken audit chain, a reconciliation mismatch or a failed live
check exit with 1. Unexpected errors are bugs and keep their traceback.

    common      errors, the Cli object, options, tables
    serve       serve, migrate
    users       user add
    items       item create|show|list|submit|review|approve|reject|abolish|withdraw
    samples     load-samples
    deliveries  deliveries, replay, replay-failed, retry-now, channel list|pause|resume, reconcile
    inspect     inspect, drifts, drift repush|accept (post-publication inspection)
    audit       audit verify|list
    config      config check [--live]
    alerts      alerts list|silence|unsilence|send
    checks      item check|accept, checks words|word|people|person (the content checks)
    (publisher.compliance.cli: calendar, compliance, application)
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from publisher.cli import alerts, audit, checks, config, deliveries, inspect, items, samples, serve, users
from publisher.cli.common import Cli, Fail, PublisherGroup
from publisher.compliance import cli as compliance


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
      publisher config check [--live]           检查配置 / check the settings (and the channels)

    \b
    设置 / settings: PUBLISHER_CONFIG (TOML), PUBLISHER_DATABASE_URL, PUBLISHER_DATA_DIR, …
    """
    if config:
        if not Path(config).is_file():
            raise Fail(f"配置文件不存在 / config file not found: {config}")
        # Process bootstrapping: later load_settings() calls anywhere in this process (the
        # alembic environment, an executor) read the same file.
        os.environ["PUBLISHER_CONFIG"] = config
    ctx.obj = Cli(ctx, config)


for command in (
    serve.serve,
    serve.migrate,
    users.user,
    items.item,
    samples.load_samples,
    deliveries.deliveries,
    deliveries.replay,
    deliveries.release,
    deliveries.replay_failed,
    deliveries.retry_now,
    deliveries.channel,
    deliveries.reconcile_cmd,
    inspect.inspect_cmd,
    inspect.drifts,
    inspect.drift,
    audit.audit,
    config.config,
    alerts.alerts,
    compliance.calendar_group,
    compliance.compliance_group,
    compliance.application_group,
):
    main.add_command(command)
checks.register(main, items.item)  # `item check|accept` and `checks …`

__all__ = ["main"]
