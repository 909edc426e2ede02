"""The typed settings model: every key the service reads, its type, default and limits.

Unknown keys are errors (`extra="forbid"`), values are checked against their types, and a
secret (`SecretStr`) comes from `<name>_env` (an environment variable) or `<name>_file`
(a file), never from the settings file itself. A channel section holds the keys the
engine reads (`ChannelSection`: enabled, retry, breaker, leases, routing filter); its
adapter's own keys are checked against the adapter's `settings_model` by
`publisher.settings.check` (the core knows adapters only by kind name, through the registry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from publisher.domain.item import DEFAULT_LABELS, ItemType


class SettingsError(Exception):
    """The configuration cannot be used; the message says which key, where, and why."""


# The values load_settings() read from the environment, the files and the defaults, highest
# priority first; empty when Settings is built in code.
LOADED: ContextVar[Sequence[Mapping[str, Any]]] = ContextVar("publisher_settings_loaded", default=())
# The environment secrets are read from: load_settings(env=...) sets it; else os.environ.
ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("publisher_settings_environ", default=None)


# When no public_base_url is configured: `publisher serve` replaces it with the address it
# listens on, and the public pages link to where they were served from.
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"

DEFAULT_ROUTING: dict[str, list[str]] = {
    "policy": ["rss", "cms", "wechat", "cityplatform"],
    "interpretation": ["rss", "cms", "wechat", "cityplatform"],
    "notice": ["rss", "cms", "wechat", "cityplatform"],
    "consultation": ["rss", "cms", "wechat", "cityplatform"],
    "fee_change": ["rss", "cms", "cityplatform", "wechat"],
    "procurement_result": ["rss", "cms", "cityplatform"],
}

# What a deployment without a settings file runs: the public feeds only.
DEFAULT_CHANNELS: dict[str, dict[str, Any]] = {
    "rss": {"enabled": True},
    "cms": {"enabled": False},
    "wechat": {"enabled": False},
    "cityplatform": {"enabled": False},
    "webhook": {"enabled": False},
}


def read_secret(var: str | None, path: str | Path | None, what: str) -> str | None:
    """A secret from the environment variable `var` or the file `path`; None if neither is
    given or the variable is unset. The one place settings read a secret."""
    if var:
        value = (ENVIRON.get() or os.environ).get(var)
        if value:
            return value
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"{what}_file: 无法读取密钥文件 / cannot read the secret file: {exc.strerror}"
            ) from exc
    return None


class Section(BaseModel):
    """A settings table: unknown keys are errors; inputs are never echoed in errors (a
    mistyped key might hold a secret)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class DatabaseSettings(Section):
    # empty: SQLite at <data_dir>/publisher.db; postgresql+psycopg://user@host/db in production
    url: str = ""


class BrokerSettings(Section):
    # empty: the embedded executor; redis://host:6379/0: Celery workers
    url: str = Field(default="", pattern=r"^$|^redis://|^rediss://")


class MetadataLabels(Section):
    """The names of the metadata panel's fields, as this agency's own site prints them
    (defaults: the bureau's own panel, publisher.domain.item.DEFAULT_LABELS). Used on every
    public page, export and channel."""

    index_number: str = Field(default=DEFAULT_LABELS["index_number"], min_length=1, max_length=12)  # 索引号
    doc_number: str = Field(default=DEFAULT_LABELS["doc_number"], min_length=1, max_length=12)  # 发文字号
    issuing_body: str = Field(default=DEFAULT_LABELS["issuing_body"], min_length=1, max_length=12)  # 发布机构
    issue_date: str = Field(default=DEFAULT_LABELS["issue_date"], min_length=1, max_length=12)  # 成文日期
    validity: str = Field(default=DEFAULT_LABELS["validity"], min_length=1, max_length=12)  # 有效性
    published: str = Field(default=DEFAULT_LABELS["published"], min_length=1, max_length=12)
    subject: str = Field(default=DEFAULT_LABELS["subject"], min_length=1, max_length=12)


class AgencySettings(Section):
    code: str = Field(default="AB1900010", min_length=1, max_length=40)
    name: str = Field(default="上海市财政局", min_length=1, max_length=100)
    # 索取号: {code}, {year} and {serial} (with a format spec such as :03d)
    index_pattern: str = "{code}-{year}-{serial:03d}"
    labels: MetadataLabels = Field(default_factory=MetadataLabels)

    @model_validator(mode="after")
    def _pattern_usable(self) -> AgencySettings:
        try:
            self.index_pattern.format(code=self.code, year=2019, serial=1)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"index_pattern 无法使用 / index_pattern is not usable: {exc}") from None
        return self


class ExecutorSettings(Section):
    threads: int = Field(default=4, ge=1, le=64)  # embedded executor: send threads per channel
    lease_seconds: float = Field(default=120.0, gt=0)  # a send not finished by then is retried
    sweep_interval_seconds: float = Field(default=2.0, gt=0)
    # how often the compliance checks run (deadlines, inspection watch, consultations)
    compliance_interval_seconds: float = Field(default=3600.0, gt=0)


class CelerySettings(Section):
    """Tunables of the Celery executor (tasks/config.py explains how they interact)."""

    # re-dispatch a due delivery handed to the broker this long ago and still unclaimed
    dispatch_stale_seconds: float = Field(default=120.0, gt=0)
    batch_size: int = Field(default=64, ge=1, le=10_000)  # deliveries claimed together
    lane_threads: int = Field(default=8, ge=1, le=256)  # concurrent sends per channel per worker
    lane_slots: int = Field(default=1, ge=1, le=256)  # pool slots one channel may hold in a worker
    heartbeat_seconds: float = Field(default=30.0, ge=3)  # TTL of the worker heartbeat key


class WebSettings(Section):
    # request bodies over this are refused with 413 while they stream in (publisher/web/limits.py)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # the same for provider callbacks (/callbacks/...): events are a few KB
    max_callback_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # signs the pages' session cookies; processes behind one proxy must share it
    session_secret: SecretStr | None = None
    session_secret_env: str | None = None
    session_secret_file: Path | None = None

    @model_validator(mode="after")
    def _resolve(self) -> WebSettings:
        if self.session_secret is None:
            value = read_secret(self.session_secret_env, self.session_secret_file, "web.session_secret")
            if value:
                object.__setattr__(self, "session_secret", SecretStr(value))
        return self


class AuditSettings(Section):
    """The key of the audit chain's keyed hashes, kept outside the database (docs/security.md).

    Without a key the chain is hashed but not keyed: whoever can write the database can
    rewrite it and recompute every hash. With one, every event also carries an HMAC that only
    a holder of the key can make, and `publisher audit anchor` signs the chain's head."""

    key: SecretStr | None = None
    key_env: str | None = None
    key_file: Path | None = None
    # earlier keys, still accepted when verifying (events and anchors made before a rotation)
    previous_keys_env: list[str] = Field(default_factory=list)
    previous_keys_file: list[Path] = Field(default_factory=list)
    # `publisher audit anchor --send` also POSTs the signed head here (a receiver the
    # database's writers cannot reach), with this bearer token when one is given
    anchor_url: str = Field(default="", pattern=r"^$|^https?://")
    anchor_token: SecretStr | None = None
    anchor_token_env: str | None = None
    anchor_token_file: Path | None = None

    @model_validator(mode="after")
    def _resolve(self) -> AuditSettings:
        if self.key is None:
            value = read_secret(self.key_env, self.key_file, "audit.key")
            if value:
                object.__setattr__(self, "key", SecretStr(value))
        if self.anchor_token is None:
            token = read_secret(self.anchor_token_env, self.anchor_token_file, "audit.anchor_token")
            if token:
                object.__setattr__(self, "anchor_token", SecretStr(token))
        if self.key is not None and len(self.key.get_secret_value()) < 32:
            raise ValueError("audit.key: 至少 32 个字符 / at least 32 characters (e.g. 32 random bytes, hex)")
        return self

    def previous_keys(self) -> list[str]:
        found = [read_secret(var, None, "audit.previous_keys") for var in self.previous_keys_env]
        found += [read_secret(None, path, "audit.previous_keys") for path in self.previous_keys_file]
        return [k for k in found if k]


class FeedsSettings(Section):
    max_age: int = Field(default=300, ge=0, le=86_400)  # Cache-Control max-age of the feed files

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping-style read, for callers written when this section was a dict."""
        return getattr(self, key, default)


class EmailSettings(Section):
    model_config = ConfigDict(populate_by_name=True)

    smtp_host: str = ""  # alerts go out by mail only when this is set
    smtp_port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.password is None:
            value = read_secret(self.password_env, self.password_file, "alerts.email.password")
            if value:
                object.__setattr__(self, "password", SecretStr(value))
        if self.smtp_host and (not self.to or not self.sender):
            raise ValueError("设置 smtp_host 时须给出 from 与 to / from and to are required with smtp_host")
        return self


class RetrySettings(Section):
    max_attempts: int = Field(default=8, ge=1, le=1000)
    base_seconds: float = Field(default=2.0, gt=0)
    cap_seconds: float = Field(default=900.0, gt=0)
    jitter: float = Field(default=0.25, ge=0, le=1)


class AlertsSettings(Section):
    """`[alerts]`: grouping and timing after Alertmanager (publisher/alerting/), the targets, and
    the retry policy of an alert that its target refused."""

    # a group (kind, channel) is first told this long after its first event, so a burst is one message
    group_wait_seconds: float = Field(default=30.0, gt=0)
    # new events in a group already told wait this long after the last message
    group_interval_seconds: float = Field(default=300.0, gt=0)
    # a condition still firing (breaker open, channel paused, failures not replayed) is told again after this
    repeat_interval_seconds: float = Field(default=4 * 3600.0, gt=0)
    # after an executor sweep the clock ticks at most this often (capped at group_wait and
    # group_interval), or at once when this process recorded an alert; `publisher alerts send`
    # always ticks
    tick_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    webhooks: list[str] = Field(default_factory=list)  # JSON POST targets, signed when a secret is set
    # Standard Webhooks secrets (whsec_…, several space-separated during rotation)
    webhook_secret: SecretStr | None = None
    webhook_secret_env: str | None = None
    webhook_secret_file: Path | None = None
    email: EmailSettings = Field(default_factory=EmailSettings)
    # default: every alerted kind (publisher.alerting.kinds.KINDS)
    events: list[str] | None = None
    max_details: int = Field(default=5, ge=1, le=100)
    timeout_seconds: float = Field(default=5.0, gt=0)
    retry: RetrySettings = Field(
        default_factory=lambda: RetrySettings(max_attempts=10, base_seconds=5.0, cap_seconds=900.0)
    )
    # where ops open the dashboard (links in messages); default: public_base_url
    dashboard_url: str = Field(default="", pattern=r"^$|^https?://")

    @field_validator("webhooks", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [w.strip() for w in v.split(",") if w.strip()]
        return v

    @field_validator("webhooks")
    @classmethod
    def _http(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} 不是 http(s) 地址 / is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _secret(self) -> AlertsSettings:
        if self.webhook_secret is None:
            value = read_secret(self.webhook_secret_env, self.webhook_secret_file, "alerts.webhook_secret")
            if value:
                object.__setattr__(self, "webhook_secret", SecretStr(value))
        return self


class EgressSection(Section):
    """`[egress]`: how adapters fetch content and provider URLs (channels/egress.py reads it
    with `egress_settings(section.model_dump())`)."""

    # hosts ("host" or "host:port") that may resolve to private or loopback addresses
    allow_hosts: list[str] = Field(default_factory=list)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=20.0, gt=0)
    total_seconds: float = Field(default=60.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_connections: int = Field(default=10, ge=1)

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [h.strip() for h in v.split(",") if h.strip()]
        return v


class ChecksSettings(Section):
    """`[checks]`: the content checks at approval (docs/checks.md)."""

    # an issue date (印发日期) may be this many days after today before it is refused
    issue_date_margin_days: int = Field(default=0, ge=0)
    # probe links and attachments at approval (through the egress guard)
    links: bool = True
    link_cache_seconds: float = Field(default=300.0, gt=0)
    # the approval waits at most this long for all of an item's links together
    link_budget_seconds: float = Field(default=20.0, gt=0)
    link_timeout_seconds: float = Field(default=5.0, gt=0)
    # the public pages' background, for the contrast of inline colours
    page_background: str = "#ffffff"


class InspectionSettings(Section):
    """`[inspection]`: post-publication inspection of the live copies (docs/operations.md
    "Post-publication inspection"); not the column-update watch of `[compliance]`."""

    enabled: bool = True
    # every live copy is inspected at least this often
    interval_seconds: float = Field(default=86400.0, gt=0)
    # copies younger than this are inspected every new_copy_interval_seconds instead
    new_copy_days: float = Field(default=3.0, ge=0)
    new_copy_interval_seconds: float = Field(default=6 * 3600.0, gt=0)
    # a new copy's first inspection, this long after it was delivered
    first_after_seconds: float = Field(default=3600.0, ge=0)
    # each date moves by up to this fraction of its interval, so copies do not bunch up
    jitter: float = Field(default=0.1, ge=0, lt=1)
    # how often the executor's clock looks for copies due, and at most how many copies per
    # second it inspects on one channel (each tick takes at most rate * tick of a channel)
    tick_seconds: float = Field(default=30.0, gt=0)
    rate_per_second: float = Field(default=2.0, gt=0)
    # a copy that could not be read (the channel answered an error) is tried again after this
    unchecked_retry_seconds: float = Field(default=600.0, gt=0)
    # a copy changed on the channel this long after our delivery was edited by hand
    modified_tolerance_seconds: float = Field(default=120.0, ge=0)
    # check the outbound links of the body (through the egress guard)
    links: bool = True
    link_timeout_seconds: float = Field(default=5.0, gt=0)


class InspectionRuleSettings(Section):
    channel: str = Field(min_length=1)  # a channel instance name
    column: str = "*"  # an item type, or "*" for the channel as a whole
    label: str | None = None
    days: int = Field(default=0, ge=0)
    months: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_threshold(self) -> InspectionRuleSettings:
        if (self.days > 0) == (self.months > 0):
            raise ValueError("须给出 days 或 months 之一 / give days or months")
        return self


class ComplianceSection(Section):
    deadline_working_days: int = Field(default=20, ge=1, le=100)  # art. 26 of the 2019 Regulation
    warn_working_days: int = Field(default=5, ge=0, le=100)  # at risk when this many are left
    inspection_warn_ratio: float = Field(default=0.75, gt=0, lt=1)
    # replaces the default inspection rules (publisher/compliance/config.py) when given
    inspection: list[InspectionRuleSettings] | None = None


class BreakerSettings(Section):
    failures: int = Field(default=5, ge=1)  # consecutive failures that open the breaker
    ratio: float = Field(default=0.5, gt=0, le=1)  # or this failure ratio over the last `window`
    window: int = Field(default=20, ge=1)
    min_samples: int = Field(default=10, ge=1)
    cooldown_seconds: float = Field(default=30.0, gt=0)


# Keys of a channel section that the engine reads; the rest belongs to the adapter.
ENGINE_KEYS = frozenset(
    {
        "kind",
        "types",
        "retry",
        "breaker",
        "lease_seconds",
        "confirm_interval_seconds",
        "confirm_timeout_seconds",
        "subscribers",
    }
)


class ChannelSection(BaseModel):
    """One `[channels.<name>]` table. The engine's keys are typed here; the adapter's keys
    (extra) are checked against its own settings model at start-up."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True, frozen=True)

    enabled: bool = False
    # the adapter kind of an instance such as `webhook.crm` (default: the section name)
    kind: str | None = None
    # webhook subscribers: the item types this one receives (default: every type)
    types: list[ItemType] | None = None
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    lease_seconds: float | None = Field(default=None, gt=0)  # default: executor.lease_seconds
    confirm_interval_seconds: float = Field(default=10.0, gt=0)
    # how long an accepted delivery may wait for its provider's confirmation before it fails
    confirm_timeout_seconds: float = Field(default=6 * 3600.0, gt=0)
    # [[channels.webhook.subscribers]]: each becomes the channel instance `webhook.<name>`
    subscribers: list[dict[str, Any]] | None = None

    def adapter_keys(self) -> dict[str, Any]:
        """The keys the adapter's settings model takes: everything but the engine's."""
        return {"enabled": self.enabled, **(self.model_extra or {})}

    def as_dict(self) -> dict[str, Any]:
        """The section as plain data (engine keys with their defaults, adapter keys as given)."""
        return self.model_dump(exclude_none=True)


def _expand_subscribers(channels: Mapping[str, Any]) -> dict[str, Any]:
    """`[[channels.webhook.subscribers]]` become channel instances `webhook.<name>`, each with
    its own queue, retry budget and breaker, so one slow or dead endpoint never holds up
    another. The group's other keys are shared defaults of its subscribers."""
    group = channels.get("webhook")
    if not isinstance(group, Mapping) or not isinstance(group.get("subscribers"), list):
        return dict(channels)
    out = dict(channels)
    for n, sub in enumerate(group["subscribers"], start=1):
        if not isinstance(sub, Mapping):
            continue  # the group's own validation names the bad entry
        name = str(sub.get("name") or n)
        instance = {k: v for k, v in group.items() if k not in ("subscribers", "enabled")}
        instance.update({k: v for k, v in sub.items() if k != "name"})
        instance["kind"] = "webhook"
        instance["enabled"] = _truthy(group.get("enabled", False)) and _truthy(sub.get("enabled", True))
        out[f"webhook.{name}"] = instance
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class Settings(BaseSettings):
    """The deployment's settings. Build it with `load_settings()` (file + environment) or
    directly in code (`Settings(database={"url": ...}, channels={...})`: only what is given
    plus the defaults; no file and no environment are read then)."""

    model_config = SettingsConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    data_dir: Path = Path("var")  # SQLite file, feed files, channel stores
    # where the public item pages and feeds live; default: channels.rss.public_base_url, else local
    public_base_url: str = Field(default="", pattern=r"^$|^https?://")
    routing_file: Path | None = None  # default: config/routing.toml when present
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    agency: AgencySettings = Field(default_factory=AgencySettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    celery: CelerySettings = Field(default_factory=CelerySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    feeds: FeedsSettings = Field(default_factory=FeedsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    compliance: ComplianceSection = Field(default_factory=ComplianceSection)
    egress: EgressSection = Field(default_factory=EgressSection)
    checks: ChecksSettings = Field(default_factory=ChecksSettings)
    inspection: InspectionSettings = Field(default_factory=InspectionSettings)
    routing: dict[ItemType, list[str]] = Field(
        default_factory=lambda: {ItemType(k): v for k, v in DEFAULT_ROUTING.items()}
    )
    # built in code without `channels`: the defaults (the feeds only); given: exactly those
    channels: dict[str, ChannelSection] = Field(
        default_factory=lambda: {k: ChannelSection(**v) for k, v in DEFAULT_CHANNELS.items()}
    )

    # where the values came from (publisher.settings.load): for error messages and `config check`
    _config_path: Path | None = PrivateAttr(default=None)
    _origins: Any = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built in code: only the arguments. load_settings() (publisher.settings.load) reads
        # the environment, the files and the defaults first, to know each value's origin.
        from publisher.settings.sources import DataSource

        return (init_settings, *(DataSource(settings_cls, data) for data in LOADED.get()))

    @field_validator("channels", mode="before")
    @classmethod
    def _instances(cls, v: Any) -> Any:
        return _expand_subscribers(v) if isinstance(v, Mapping) else v

    @field_validator("channels")
    @classmethod
    def _names(cls, v: dict[str, ChannelSection]) -> dict[str, ChannelSection]:
        for name in v:
            if not name or not all(c.isalnum() or c in "-_." for c in name):
                raise ValueError(
                    f"渠道名 {name!r} 只能含字母、数字、-、_ 和 . / channel names: letters, digits, - _ ."
                )
        return v

    @model_validator(mode="after")
    def _public_base_url(self) -> Settings:
        if not self.public_base_url:
            rss = self.channels.get("rss")
            extra = (rss.model_extra or {}) if rss is not None else {}
            url = str(extra.get("public_base_url") or DEFAULT_PUBLIC_BASE_URL)
            object.__setattr__(self, "public_base_url", url)
        return self

    # -- what callers read ----------------------------------------------------------------------
    @property
    def public_base_url_given(self) -> bool:
        """Whether the deployment named its public address (else pages use the request's)."""
        return self.public_base_url != DEFAULT_PUBLIC_BASE_URL

    @property
    def config_path(self) -> Path | None:
        """The settings file these settings were read from, if any."""
        return self._config_path

    @property
    def database_url(self) -> str:
        return self.database.url

    @property
    def broker_url(self) -> str:
        return self.broker.url

    @property
    def db_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_dir / 'publisher.db').as_posix()}"

    def section(self, name: str) -> ChannelSection:
        """A channel instance's section (an empty, disabled one when not configured)."""
        return self.channels.get(name) or ChannelSection()

    def channel(self, name: str) -> dict[str, Any]:
        """A channel instance's section as plain data: engine keys and the adapter's keys."""
        section = self.channels.get(name)
        return section.as_dict() if section is not None else {}

    def kind_of(self, name: str) -> str:
        """A channel instance's adapter kind: `webhook.crm` is of kind `webhook`."""
        section = self.channels.get(name)
        if section is not None and section.kind:
            return section.kind
        return name.split(".", 1)[0]

    def enabled_channels(self) -> list[str]:
        """Enabled channel instances (a section with subscribers is a group, not a channel)."""
        return [k for k, v in self.channels.items() if v.enabled and v.subscribers is None]

    def routed_channels(self, item_type: str) -> list[str]:
        """Channels an item of this type goes to in this deployment: routed and enabled.
        Webhook subscribers route by their own `types` (all types when not given)."""
        enabled = self.enabled_channels()
        routed = self.routing.get(item_type, [])  # type: ignore[call-overload]  # StrEnum keys
        out = [c for c in routed if c in enabled]
        for name in enabled:
            section = self.channels[name]
            if self.kind_of(name) == "webhook" and name not in out:
                if not section.types or item_type in section.types:
                    out.append(name)
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with these top-level values replaced, validated like the original."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        copy = type(self)(**data)
        copy._config_path = self._config_path
        copy._origins = self._origins
        return copy
