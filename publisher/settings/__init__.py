"""Settings: one typed model (pydantic-settings), read from a TOML file and `PUBLISHER_*`
environment variables; a mistake is an error naming the key, the file and the line.

Where the file is: `PUBLISHER_CONFIG`, else `config/publisher.toml` when present, else the
built-in defaults (SQLite in ./var, embedded executor, RSS only); `config/routing.toml` (or
`routing_file`) maps item types to channels. `config/publisher.example.toml` documents every key.

Environment: `PUBLISHER_<AREA>_<FIELD>`, nested by the same underscore and resolved against
the model — PUBLISHER_DATABASE_URL, PUBLISHER_BROKER_URL, PUBLISHER_DATA_DIR,
PUBLISHER_PUBLIC_BASE_URL, PUBLISHER_AGENCY_CODE, PUBLISHER_EXECUTOR_THREADS,
PUBLISHER_CELERY_BATCH_SIZE, PUBLISHER_CHANNELS_<KIND>_<KEY> (e.g.
PUBLISHER_CHANNELS_CMS_ENABLED=true) — over the file. Secrets (`SecretStr`) are never written
in the file: `<name>_env` names the variable holding one, `<name>_file` a file.

This package is the one place that reads the process environment (besides process
bootstrapping: the CLI's `--config`/`--as`, and tests). It may import `publisher.domain` and
`channels.registry` (adapters' settings models, by kind name), nothing else of ours.

    model    the typed model (Settings and its sections)
    sources  the TOML file with each key's line; the environment resolved against the model
    load     load_settings(), check_settings(): every problem with its file:line or variable
    show     the effective configuration as TOML, secrets masked (`publisher config check`)
"""

from publisher.settings.load import (
    Origins,
    Problem,
    check_settings,
    load_settings,
    origins_of,
    resolve_secret,
    settings_problems,
)
from publisher.settings.model import (
    DEFAULT_CHANNELS,
    DEFAULT_ROUTING,
    ENGINE_KEYS,
    AgencySettings,
    AlertsSettings,
    BreakerSettings,
    ChannelSection,
    ChecksSettings,
    ComplianceSection,
    ExecutorSettings,
    RetrySettings,
    Settings,
    SettingsError,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_ROUTING",
    "ENGINE_KEYS",
    "AgencySettings",
    "AlertsSettings",
    "BreakerSettings",
    "ChannelSection",
    "ChecksSettings",
    "ComplianceSection",
    "ExecutorSettings",
    "Origins",
    "Problem",
    "RetrySettings",
    "Settings",
    "SettingsError",
    "check_settings",
    "load_settings",
    "origins_of",
    "resolve_secret",
    "settings_problems",
]
