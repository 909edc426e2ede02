"""`publisher config check`: the effective settings with secrets masked, problems with their
file:line, and `--live` against the real WordPress, the WeChat stand-in and the city
platform's reference receiver over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from channels import signing
from channels.standins.cityplatform_receiver import ReceiverConfig, RunningReceiver
from channels.standins.cityplatform_receiver import start_in_thread as start_receiver
from channels.standins.wechat_server import RunningServer, ServerConfig
from channels.standins.wechat_server import start_in_thread as start_wechat
from publisher.cli import main
from tests.wordpress_support import WordPress, start_wordpress

CITY_SECRET = signing.generate_secret()


def check(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environ: dict[str, str | None] = {"PUBLISHER_CONFIG": str(config), "PUBLISHER_DATABASE_URL": None}
    environ.update(env or {})
    return CliRunner().invoke(main, ["config", "check", *args], env=environ, catch_exceptions=False)


@pytest.fixture(scope="module")
def wordpress() -> WordPress:
    return start_wordpress()


@pytest.fixture
def wechat() -> Iterator[RunningServer]:
    server = start_wechat(ServerConfig())
    yield server
    server.stop()


@pytest.fixture
def platform() -> Iterator[RunningReceiver]:
    receiver = start_receiver(ReceiverConfig(secrets=[signing.parse_secret(CITY_SECRET)], delay=0.05))
    yield receiver
    receiver.stop()


def live_config(
    tmp_path: Path, wordpress: WordPress, wechat: RunningServer, platform: RunningReceiver
) -> Path:
    path = tmp_path / "publisher.toml"
    path.write_text(
        f"""data_dir = "{tmp_path / "data"}"

[channels.cms]
enabled = true
base_url = "{wordpress.url}"
user = "{wordpress.user}"
app_password_env = "CHECK_WP_PASSWORD"

[channels.wechat]
enabled = true
api_base_url = "{wechat.api_base_url}"
appid = "{ServerConfig.appid}"
secret_env = "CHECK_WECHAT_SECRET"

[channels.cityplatform]
enabled = true

[[channels.cityplatform.targets]]
name = "disclosure"
url = "{platform.records_url}"
secret_env = "CHECK_CITY_SECRET"
types = ["policy"]
""",
        encoding="utf-8",
    )
    return path


def test_prints_the_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "publisher.toml"
    path.write_text(
        '[database]\nurl = "postgresql+psycopg://pub:dbpass@127.0.0.1/pub"\n'
        '[channels.cms]\nenabled = true\napp_password_env = "CHECK_WP_PASSWORD"\n',
        encoding="utf-8",
    )
    result = check(path, env={"CHECK_WP_PASSWORD": "wp-app-password-123", "PUBLISHER_DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    assert str(path) in result.output and "配置有效 / configuration valid" in result.output
    assert 'app_password = "**********"' in result.output
    assert 'app_password_env = "CHECK_WP_PASSWORD"' in result.output
    assert "postgresql+psycopg://pub:**********@127.0.0.1/pub" in result.output
    assert "wp-app-password-123" not in result.output and "dbpass" not in result.output
    # defaults the file does not write are shown too
    assert 'withdraw_mode = "trash"' in result.output and "max_attempts = 8" in result.output


def test_a_mistake_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "publisher.toml"
    path.write_text("[channels.webhook.retry]\nmax_attempt = 3\n", encoding="utf-8")
    result = check(path)
    assert result.exit_code == 2
    assert f"{path}:2: channels.webhook.retry.max_attempt: 未知的键 / unknown key" in result.output


def test_live_check_passes_against_wordpress_wechat_and_the_platform(
    tmp_path: Path, wordpress: WordPress, wechat: RunningServer, platform: RunningReceiver
) -> None:
    config = live_config(tmp_path, wordpress, wechat, platform)
    env = {
        "CHECK_WP_PASSWORD": wordpress.app_password,
        "CHECK_WECHAT_SECRET": ServerConfig.secret,
        "CHECK_CITY_SECRET": CITY_SECRET,
    }
    result = check(config, "--live", env=env)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.split()[:1]}
    assert "正常 / ok" in lines["cms"] and f"authenticated as {wordpress.user}" in lines["cms"]
    assert (
        "正常 / ok" in lines["wechat"] and f"access token fetched for {ServerConfig.appid}" in lines["wechat"]
    )
    assert "正常 / ok" in lines["cityplatform"] and "signed read accepted" in lines["cityplatform"]
    assert "正常 / ok" in lines["rss"]
    # the check took the token in force (stable_token), never a fresh one that knocks out the workers'
    assert wechat.state()["counters"]["token_fetches"] == 0


def test_live_check_names_each_failing_channel_and_exits_1(
    tmp_path: Path, wordpress: WordPress, wechat: RunningServer, platform: RunningReceiver
) -> None:
    config = live_config(tmp_path, wordpress, wechat, platform)
    env = {
        "CHECK_WP_PASSWORD": "xxxx xxxx xxxx xxxx xxxx xxxx",
        "CHECK_WECHAT_SECRET": "not-the-secret",
        "CHECK_CITY_SECRET": signing.generate_secret(),
    }
    result = check(config, "--live", env=env)
    assert result.exit_code == 1
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.split()[:1]}
    assert "失败 / FAILED" in lines["cms"] and "credentials or settings refused" in lines["cms"]
    assert "失败 / FAILED" in lines["wechat"] and "40125" in lines["wechat"]
    assert "失败 / FAILED" in lines["cityplatform"] and "signature refused" in lines["cityplatform"]
    assert "正常 / ok" in lines["rss"]
    assert "3 个渠道检查失败 / 3 channel(s) failed" in result.output


def test_live_check_reports_an_unreachable_platform(
    tmp_path: Path, wordpress: WordPress, wechat: RunningServer, platform: RunningReceiver
) -> None:
    config = live_config(tmp_path, wordpress, wechat, platform)
    platform.stop()
    env = {
        "CHECK_WP_PASSWORD": wordpress.app_password,
        "CHECK_WECHAT_SECRET": ServerConfig.secret,
        "CHECK_CITY_SECRET": CITY_SECRET,
    }
    result = check(config, "--live", "--channel", "cityplatform", env=env)
    assert result.exit_code == 1
    assert "cityplatform" in result.output and "无法连通 / not reachable" in result.output
    assert "wechat" not in result.output.split("说明 / detail")[-1]
