"""Running the `publisher` command in tests against the test database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from publisher.cli import main

# The CLI tests are about the commands, not routing: no channel is enabled, so approvals need
# no adapter and write no delivery rows (the API tests cover deliveries).
TEST_CONFIG = """
[channels.rss]
enabled = false
[channels.cms]
enabled = false
[channels.wechat]
enabled = false
[channels.cityplatform]
enabled = false
[channels.webhook]
enabled = false
"""


def cli_env(tmp_path: Path, db_url: str) -> dict[str, str | None]:
    config = tmp_path / "publisher-test.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    return {
        "PUBLISHER_CONFIG": str(config),
        "PUBLISHER_DATABASE_URL": db_url,
        "PUBLISHER_DATA_DIR": str(tmp_path / "data"),
        "PUBLISHER_USER": None,
        "PUBLISHER_BROKER_URL": None,
    }


def run(env: dict[str, str | None], *args: str, input: str | None = None) -> Result:
    """Invoke `publisher ARGS`; unexpected exceptions propagate, so a traceback fails the test."""
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
