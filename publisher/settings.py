"""Settings: one TOML file plus `PUBLISHER_*` environment overrides; secrets never inline.

Where the file is: `PUBLISHER_CONFIG`, else `config/publisher.toml` when present, else the
built-in defaults (SQLite in ./var, embedded executor, RSS only). A key ending in `_env`
names the environment variable holding a secret, one ending in `_file` a file holding it.

Environment overrides, most used first: PUBLISHER_DATABASE_URL, PUBLISHER_BROKER_URL,
PUBLISHER_DATA_DIR, PUBLISHER_PUBLIC_BASE_URL, PUBLISHER_AGENCY_CODE, PUBLISHER_AGENCY_NAME,
PUBLISHER_AGENCY_INDEX_PATTERN, and PUBLISHER_CHANNELS_<KIND>_<KEY> for a channel's keys
(e.g. PUBLISHER_CHANNELS_CMS_ENABLED=true).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ROUTING: dict[str, list[str]] = {
    "policy": ["rss", "cms", "wechat", "cityplatform"],
    "interpretation": ["rss", "cms", "wechat", "cityplatform"],
    "notice": ["rss", "cms", "wechat", "cityplatform"],
    "consultation": ["rss", "cms", "wechat", "cityplatform"],
    "fee_change": ["rss", "cms", "cityplatform", "wechat"],
    "procurement_result": ["rss", "cms", "cityplatform"],
}

DEFAULT_CHANNELS: dict[str, dict[str, Any]] = {
    "rss": {"enabled": True},
    "cms": {"enabled": False},
    "wechat": {"enabled": False},
    "cityplatform": {"enabled": False},
    "webhook": {"enabled": False},
}


class SettingsError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class AgencySettings:
    code: str = "AB1900010"
    name: str = "上海市财政局"
    index_pattern: str = "{code}-{year}-{serial:03d}"


@dataclass(frozen=True)
class ExecutorSettings:
    threads: int = 4
    lease_seconds: int = 120
    sweep_interval_seconds: float = 2.0
    # how often the compliance checks run (deadlines, inspection watch, consultations)
    compliance_interval_seconds: float = 3600.0


@dataclass(frozen=True)
class ChecksSettings:
    """`[checks]`: the content checks at approval (docs/checks.md)."""

    # an issue date (印发日期) may be this many days after today before it is refused
    issue_date_margin_days: int = 0
    # probe links and attachments at approval (through the egress guard)
    links: bool = True
    link_cache_seconds: float = 300.0
    # the approval waits at most this long for all of an item's links together
    link_budget_seconds: float = 20.0
    link_timeout_seconds: float = 5.0
    # the public pages' background, for the contrast of inline colours
    page_background: str = "#ffffff"


def _checks(raw: dict[str, Any]) -> ChecksSettings:
    known = {f for f in ChecksSettings.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(
            f"[checks]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    defaults = ChecksSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        want = type(getattr(defaults, key))
        if want is bool:
            if not isinstance(value, bool):
                raise SettingsError(f"[checks] {key} must be true or false, not {value!r}")
        elif want is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SettingsError(f"[checks] {key} must be a whole number >= 0, not {value!r}")
        elif want is float:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SettingsError(f"[checks] {key} must be a number > 0, not {value!r}")
            value = float(value)
        elif not isinstance(value, str):
            raise SettingsError(f"[checks] {key} must be a string, not {value!r}")
        values[key] = value
    return ChecksSettings(**values)


def _checks_raw(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`[checks]` with PUBLISHER_CHECKS_<KEY> overrides (e.g. PUBLISHER_CHECKS_LINKS=false)."""
    out = dict(raw.get("checks", {}))
    for key in ChecksSettings.__dataclass_fields__:
        value = environ.get(f"PUBLISHER_CHECKS_{key.upper()}")
        if value is None:
            continue
        parsed = _coerce(value)
        if isinstance(parsed, str):
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        out[key] = parsed
    return out


def _egress_raw(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`[egress]`, with PUBLISHER_EGRESS_ALLOW_HOSTS (comma separated) as an override."""
    out = dict(raw.get("egress", {}))
    hosts = environ.get("PUBLISHER_EGRESS_ALLOW_HOSTS")
    if hosts is not None:
        out["allow_hosts"] = [h.strip() for h in hosts.split(",") if h.strip()]
    return out


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    broker_url: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    agency: AgencySettings = field(default_factory=AgencySettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    routing: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_ROUTING))
    channels: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    feeds: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    # `[egress]`: the guard for fetches of content URLs (channels/egress.py, egress_settings)
    egress: dict[str, Any] = field(default_factory=dict)
    config_path: Path | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'publisher.db').as_posix()}"

    def channel(self, name: str) -> dict[str, Any]:
        return dict(self.channels.get(name, {}))

    def kind_of(self, name: str) -> str:
        """A channel instance's adapter kind: `webhook.crm` is of kind `webhook`."""
        return str(self.channels.get(name, {}).get("kind", name))

    def enabled_channels(self) -> list[str]:
        """Enabled channel instances (a section with subscribers is a group, not a channel)."""
        return [
            k for k, v in self.channels.items() if _truthy(v.get("enabled", False)) and "subscribers" not in v
        ]

    def routed_channels(self, item_type: str) -> list[str]:
        """Channels an item of this type goes to in this deployment: routed and enabled.
        Webhook subscribers route by their own `types` (all types when not given)."""
        enabled = self.enabled_channels()
        out = [c for c in self.routing.get(item_type, []) if c in enabled]
        for name in enabled:
            section = self.channels[name]
            if self.kind_of(name) == "webhook" and name not in out:
                types = section.get("types")
                if not types or item_type in types:
                    out.append(name)
        return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def resolve_secret(section: Mapping[str, Any], name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The secret `name` of a config section, from `<name>_env` or `<name>_file`; None if unset."""
    environ = os.environ if env is None else env
    if name in section and section[name] not in (None, ""):
        raise SettingsError(f"secret {name!r} must not be written in the file: use {name}_env or {name}_file")
    var = section.get(f"{name}_env")
    if var:
        value = environ.get(str(var))
        if value:
            return value
    path = section.get(f"{name}_file")
    if path:
        try:
            return Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read secret file for {name!r}: {exc.strerror}") from exc
    return None


def _coerce(text: str) -> Any:
    low = text.strip().lower()
    if low in {"true", "false"}:
        return low == "true"
    try:
        return int(text)
    except ValueError:
        return text


def _expand_subscribers(channels: dict[str, dict[str, Any]]) -> None:
    """`[[channels.webhook.subscribers]]` become channel instances `webhook.<name>`, each with its
    own queue, retry budget and breaker, so one slow or dead endpoint never holds up another."""
    group = channels.get("webhook", {})
    subscribers = group.get("subscribers") or []
    for n, sub in enumerate(subscribers, start=1):
        name = str(sub.get("name") or n)
        if not all(c.isalnum() or c in "-_" for c in name):
            raise SettingsError(f"webhook subscriber name {name!r}: letters, digits, - and _ only")
        instance = {k: v for k, v in group.items() if k not in ("subscribers", "enabled")}
        instance.update(sub)
        instance.pop("name", None)
        instance["kind"] = "webhook"
        instance["enabled"] = _truthy(group.get("enabled", False)) and _truthy(sub.get("enabled", True))
        channels[f"webhook.{name}"] = instance


def load_settings(env: Mapping[str, str] | None = None, path: str | Path | None = None) -> Settings:
    environ = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    config_path: Path | None = None
    candidate = path or environ.get("PUBLISHER_CONFIG")
    if candidate:
        config_path = Path(candidate)
        if not config_path.is_file():
            raise SettingsError(f"config file not found: {config_path}")
    elif Path("config/publisher.toml").is_file():
        config_path = Path("config/publisher.toml")
    if config_path is not None:
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_path}: {exc}") from exc

    data_dir = Path(environ.get("PUBLISHER_DATA_DIR") or raw.get("data_dir") or "var")
    database = raw.get("database", {})
    broker = raw.get("broker", {})
    agency_raw = dict(raw.get("agency", {}))
    for key in ("code", "name", "index_pattern"):
        if f"PUBLISHER_AGENCY_{key.upper()}" in environ:
            agency_raw[key] = environ[f"PUBLISHER_AGENCY_{key.upper()}"]
    agency = AgencySettings(
        **{k: str(v) for k, v in agency_raw.items() if k in {"code", "name", "index_pattern"}}
    )
    try:
        agency.index_pattern.format(code=agency.code, year=2019, serial=1)
    except (KeyError, ValueError, IndexError) as exc:
        raise SettingsError(f"agency.index_pattern is not usable: {exc}") from exc

    executor_raw = raw.get("executor", {})
    executor = ExecutorSettings(
        threads=int(environ.get("PUBLISHER_EXECUTOR_THREADS", executor_raw.get("threads", 4))),
        lease_seconds=int(executor_raw.get("lease_seconds", 120)),
        sweep_interval_seconds=float(executor_raw.get("sweep_interval_seconds", 2.0)),
        compliance_interval_seconds=float(executor_raw.get("compliance_interval_seconds", 3600.0)),
    )

    routing = dict(DEFAULT_ROUTING)
    routing_file = raw.get("routing_file") or (
        "config/routing.toml" if "routing" not in raw and Path("config/routing.toml").is_file() else None
    )
    if routing_file:
        routing.update(tomllib.loads(Path(routing_file).read_text(encoding="utf-8")).get("routing", {}))
    routing.update(raw.get("routing", {}))

    channels: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_CHANNELS.items()}
    for kind, section in raw.get("channels", {}).items():
        channels.setdefault(kind, {}).update(section)
    for name, value in environ.items():
        if not name.startswith("PUBLISHER_CHANNELS_"):
            continue
        rest = name[len("PUBLISHER_CHANNELS_") :].lower()
        kind, _, key = rest.partition("_")
        if kind and key:
            channels.setdefault(kind, {})[key] = _coerce(value)

    _expand_subscribers(channels)
    return Settings(
        data_dir=data_dir,
        database_url=environ.get("PUBLISHER_DATABASE_URL") or str(database.get("url", "")),
        broker_url=environ.get("PUBLISHER_BROKER_URL", str(broker.get("url", ""))),
        public_base_url=(environ.get("PUBLISHER_PUBLIC_BASE_URL") or str(raw.get("public_base_url", "")))
        or str(channels.get("rss", {}).get("public_base_url", "http://127.0.0.1:8000")),
        agency=agency,
        executor=executor,
        routing=routing,
        channels=channels,
        feeds=dict(raw.get("feeds", {})),
        alerts=dict(raw.get("alerts", {})),
        checks=_checks(_checks_raw(raw, environ)),
        egress=_egress_raw(raw, environ),
        config_path=config_path,
    )
