"""Settings refuse mistakes: unknown keys and bad values name the file, the line and the key;
the environment overrides by PUBLISHER_<AREA>_<FIELD>; the example documents every key."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from channels import registry
from publisher.runtime import build_runtime
from publisher.settings import ChannelSection, Settings, SettingsError, load_settings
from publisher.settings.sources import _strip, is_secret, key_lines

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "publisher.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "publisher.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_key_is_an_error_naming_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[channels.webhook]\nenabled = false\n\n[channels.webhook.retry]\nbase_seconds = 2\nmax_attempt = 3\n",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(env={}, path=path)
    assert str(caught.value) == (
        f"{path}:6: channels.webhook.retry.max_attempt: 未知的键 / unknown key"
        "（是否应为 / did you mean max_attempts?）"
    )


def test_a_bad_boolean_is_an_error_not_a_disabled_channel(tmp_path: Path) -> None:
    path = write(
        tmp_path, '# the website\n[channels.cms]\nbase_url = "http://127.0.0.1:8080"\nenabled = "ture"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(env={}, path=path)
    assert str(caught.value) == (
        f"{path}:4: channels.cms.enabled: 应为 true 或 false / must be true or false, not 'ture'"
    )


def test_every_problem_is_reported_at_once_including_adapter_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[agency]\ncode = 'X'\nindx_pattern = 'y'\n\n[channels.wechat]\nenabled = true\n"
        "update_mode = 'rewrite'\nbroadcast_at = 'six'\n\n[channels.rss]\nfeed_sise = 3\n",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(env={}, path=path)
    text = str(caught.value)
    assert text.startswith("4 处问题 / 4 problems:")
    assert f"{path}:3: agency.indx_pattern: 未知的键" in text
    # adapters' own settings models, found through the registry
    assert f"{path}:7: channels.wechat.update_mode: 取值无效 / invalid value 'rewrite'" in text
    assert f"{path}:8: channels.wechat.broadcast_at: 应为整数 / must be an integer, not 'six'" in text
    assert (
        f"{path}:11: channels.rss.feed_sise: 未知的键 / unknown key（是否应为 / did you mean feed_size?）"
        in text
    )


def test_subscriber_and_target_errors_point_at_their_entries(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[channels.webhook]\nenabled = true\n\n[[channels.webhook.subscribers]]\nname = 'a'\n"
        "url = 'http://a.test/'\nsecret_env = 'UNSET_VAR_A'\n\n[[channels.webhook.subscribers]]\n"
        "name = 'b'\nurl = 'ftp://b.test/'\nsecret_file = '/nonexistent/secret'\n\n"
        "[channels.cityplatform]\nenabled = true\n\n[[channels.cityplatform.targets]]\nname = 'd'\n"
        "url = 'http://d.test/records'\nsecret = 'whsec_inline'\ntypes = ['policy']\n",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(env={}, path=path)
    text = str(caught.value)
    assert (
        f"{path}:7: channels.webhook.subscribers[0].secret_env: 环境变量 UNSET_VAR_A 未设置 / the variable UNSET_VAR_A is not set"
        in text
    )
    assert f"{path}:11: channels.webhook.subscribers[1].url: String should match pattern" in text
    assert f"{path}:12: channels.webhook.subscribers[1].secret_file: 无法读取密钥文件" in text
    assert f"{path}:20: channels.cityplatform.targets[0].secret: 密钥不能写在配置文件中" in text


def test_environment_overrides_by_area_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "[agency]\ncode = 'FROMFILE'\n[channels.cms]\nenabled = false\n")
    env = {
        "PUBLISHER_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "PUBLISHER_BROKER_URL": "redis://127.0.0.1:6381/0",
        "PUBLISHER_DATA_DIR": str(tmp_path),
        "PUBLISHER_PUBLIC_BASE_URL": "https://gk.example.gov.cn",
        "PUBLISHER_AGENCY_CODE": "AB1900099",
        "PUBLISHER_AGENCY_INDEX_PATTERN": "{code}/{year}/{serial:04d}",
        "PUBLISHER_CHANNELS_CMS_ENABLED": "true",
        "PUBLISHER_CHANNELS_CMS_APP_PASSWORD_ENV": "WP_PW",
        "PUBLISHER_CHANNELS_WEBHOOK_RETRY_MAX_ATTEMPTS": "3",
        "PUBLISHER_ROUTING_POLICY": '["rss", "cms"]',
        "PUBLISHER_BATCH_SIZE": "7",  # an older name, still read
        "WP_PW": "pw",
        "PUBLISHER_CONFIG": "ignored: path wins",
        "PUBLISHER_USER": "not a setting",
    }
    s = load_settings(env=env, path=path)
    assert s.db_url == "postgresql+psycopg://u@h/db" and s.broker_url == "redis://127.0.0.1:6381/0"
    assert s.data_dir == tmp_path and s.public_base_url == "https://gk.example.gov.cn"
    assert s.agency.code == "AB1900099" and s.agency.index_pattern == "{code}/{year}/{serial:04d}"
    assert s.enabled_channels() == ["rss", "cms"] and s.channel("cms")["app_password_env"] == "WP_PW"
    assert s.section("webhook").retry.max_attempts == 3
    assert s.routed_channels("policy") == ["rss", "cms"] and s.celery.batch_size == 7


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PUBLISHER_CHANNELS_CMS_ENABLD", "true", "PUBLISHER_CHANNELS_CMS_ENABLD: 没有这个设置项"),
        ("PUBLISHER_AGENCY_CDE", "X", "PUBLISHER_AGENCY_CDE: 没有这个设置项"),
        ("PUBLISHER_CHANNELS_CMS_ENABLED", "ture", "channels.cms.enabled: 应为 true 或 false"),
        ("PUBLISHER_EXECUTOR_THREADS", "many", "executor.threads: 应为整数"),
        ("PUBLISHER_ROUTING_POLICY", "rss,cms", "PUBLISHER_ROUTING_POLICY: 应为 JSON"),
    ],
)
def test_a_bad_variable_is_an_error_naming_it(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match="PUBLISHER_") as caught:
        load_settings(env={variable: value})
    assert expected in str(caught.value) and variable in str(caught.value)


def test_a_secret_variable_named_by_the_file_is_not_a_setting(tmp_path: Path) -> None:
    # PUBLISHER_ALERTS_SMTP_PASSWORD lies in the alerts area but holds a secret the file names
    path = write(tmp_path, "[alerts.email]\npassword_env = 'PUBLISHER_ALERTS_SMTP_PASSWORD'\n")
    s = load_settings(env={"PUBLISHER_ALERTS_SMTP_PASSWORD": "pw"}, path=path)
    assert s.alerts.email.password_env == "PUBLISHER_ALERTS_SMTP_PASSWORD"


def test_an_unknown_routed_channel_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[routing]\npolicy = ['rss', 'wechta']\n")
    with pytest.raises(
        SettingsError, match=r":2: routing.policy\[1\]: 未知的渠道 / unknown channel 'wechta'"
    ):
        load_settings(env={}, path=path)


def test_build_runtime_fails_fast_naming_the_channel_and_key(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        channels={"cms": {"enabled": True, "withdraw_mode": "shred"}, "webhook.crm": {"enabled": True}},
    )
    with pytest.raises(SettingsError) as caught:
        build_runtime(settings)
    text = str(caught.value)
    assert "channels.cms.withdraw_mode: 取值无效 / invalid value 'shred'" in text
    assert "channels.webhook.crm.url: 缺少必填项 / required, not given" in text


def test_a_disabled_channel_may_be_configured_in_part(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[channels.webhook]\nenabled = false\n[[channels.webhook.subscribers]]\nname = 'x'\n"
    )
    assert load_settings(env={}, path=path).enabled_channels() == ["rss"]


# -- the example documents every key ----------------------------------------------------------------
def uncommented(text: str) -> str:
    """The example with its commented-out keys and tables (`# key = …`, `# [table]`) restored."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^#\s?((?:[A-Za-z_][\w.\"-]*\s*=\s*.+)|(?:\[\[?[\w.\"-]+\]\]?.*))$", line)
        out.append(m.group(1) if m else line)
    return "\n".join(out)


def field_paths(model: type[BaseModel], prefix: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    """Every key of `model` as written in a file: aliases, secrets as `<name>_env`, lists of
    tables by their first element."""
    out: list[tuple[str | int, ...]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation = _strip(info.annotation)
        if is_secret(info.annotation):
            out.append((*prefix, f"{key}_env"))
            continue
        if name.endswith(("_env", "_file")) and name.rsplit("_", 1)[0] in model.model_fields:
            continue  # the typed twin of a secret: documented with it
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += field_paths(annotation, (*prefix, key))
            continue
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is list and args and isinstance(_strip(args[0]), type):
            element = _strip(args[0])
            if issubclass(element, BaseModel):
                out += field_paths(element, (*prefix, key, 0))
                continue
        out.append((*prefix, key))
    return out


def test_the_example_parses_and_documents_every_key() -> None:
    settings = load_settings(env={}, path=EXAMPLE)
    assert settings.enabled_channels() == ["rss"]
    lines = key_lines(uncommented(EXAMPLE.read_text(encoding="utf-8")))
    documented = set(lines)
    missing = []
    core = [p for p in field_paths(Settings, ()) if p[0] not in ("channels", "routing")]
    for path in core:
        if path not in documented:
            missing.append(path)
    engine = field_paths(ChannelSection, ())
    for path in engine:
        if not any(("channels", kind, *path) in documented for kind in registry.KINDS):
            if path[0] not in ("subscribers", "kind", "types"):
                missing.append(("channels", "<any>", *path))
    for extra in (("channels", "webhook", "subscribers"), ("channels", "webhook.crm", "kind")):
        if extra not in documented:
            missing.append(extra)
    for kind in registry.KINDS:
        model = registry.channel_class(kind).settings_model
        for path in field_paths(model, ()):
            places = [("channels", kind, *path), ("channels", kind, "subscribers", 0, *path)]
            if not any(p in documented for p in places):
                missing.append(("channels", kind, *path))
    assert not missing, f"not in {EXAMPLE.name}: " + ", ".join(".".join(map(str, p)) for p in missing)


def test_the_documenting_check_finds_an_undocumented_key() -> None:
    # the check above must be able to fail: drop one key and it is reported
    text = EXAMPLE.read_text(encoding="utf-8").replace("# lookup_pages = 500", "")
    documented: Any = set(key_lines(uncommented(text)))
    assert ("channels", "wechat", "lookup_pages") not in documented
    assert ("channels", "wechat", "update_mode") in documented
