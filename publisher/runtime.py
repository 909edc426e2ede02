"""Wiring: settings → store → channels → service → executor. One place builds it all, so the
CLI, the web app, Celery workers and tests start the same thing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from publisher.delivery.channelset import ChannelSet
from publisher.delivery.engine import Engine
from publisher.delivery.service import DeliveryService
from publisher.editorial.service import Service
from publisher.settings import Settings, check_settings
from publisher.store.db import Database
from publisher.store.migrate import alembic_config, current_revision, upgrade

if TYPE_CHECKING:  # imported on first use: a worker process never needs it
    from publisher.compliance.service import ComplianceService

log = logging.getLogger(__name__)


class Executor(Protocol):
    """What sends due deliveries: the embedded thread pool or the Celery bridge."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def wake(self, delivery_ids: list[int], channels: Mapping[int, str] | None = None) -> None:
        """Hand these due deliveries over; `channels` (delivery id -> channel), where the
        caller knows them, spares a lookup."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    channels: ChannelSet
    service: Service  # editorial: users, items and their workflow, read models
    engine: Engine
    deliveries: DeliveryService  # ops actions on deliveries and channels, provider callbacks
    executor: Executor | None = None
    extras: dict[str, object] = field(default_factory=dict)
    _compliance: ComplianceService | None = field(default=None, repr=False)

    @property
    def compliance(self) -> ComplianceService:
        """Deadlines, calendar, applications, catalogues, figures (built on first use: the
        compliance modules are heavy to import and a delivery worker never needs them)."""
        if self._compliance is None:
            from publisher.compliance.service import ComplianceService

            self._compliance = ComplianceService(self.db, self.settings)
        return self._compliance

    def start(self) -> None:
        if self.executor is not None:
            self.executor.start()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.stop()
        self.channels.close()
        self.db.dispose()


def build_runtime(settings: Settings, *, migrate: bool = False, executor: Executor | None = None) -> Runtime:
    """Everything one process runs, from `settings`, checked first (every enabled channel's
    section against its adapter's settings model): a mistake fails here, at start-up, with
    a SettingsError naming the channel and the key."""
    check_settings(settings)
    if migrate:
        upgrade(settings.db_url)
    db = Database(settings.db_url)
    channels = ChannelSet(settings)
    service = Service(db, settings, preflight=channels.preflight)
    engine = Engine(db, settings, channels)
    deliveries = DeliveryService(db, settings, engine, channels, service)
    runtime = Runtime(
        settings=settings,
        db=db,
        channels=channels,
        service=service,
        engine=engine,
        deliveries=deliveries,
    )
    if executor is not None:
        use_executor(runtime, executor)
    return runtime


def use_executor(runtime: Runtime, executor: Executor) -> None:
    """Hand deliveries that become due (approvals, replays, released holds) to `executor`."""
    runtime.executor = executor
    runtime.service.add_waker(executor.wake)
    runtime.engine.dispatch = executor.wake


def attach_executor(runtime: Runtime, name: str | None = None) -> Executor:
    """Pick the executor by name through the `publisher.executors` entry points, so the core
    never imports Celery: "celery" when a broker is configured, else "embedded"."""
    from importlib.metadata import entry_points

    name = name or ("celery" if runtime.settings.broker_url else "embedded")
    if name == "embedded":
        from publisher.delivery.executor import EmbeddedExecutor

        executor: Executor = EmbeddedExecutor(runtime.engine)
    else:
        found = [ep for ep in entry_points(group="publisher.executors") if ep.name == name]
        if not found:
            raise RuntimeError(
                f"no executor named {name!r} is installed (entry point group publisher.executors)"
            )
        executor = found[0].load()(runtime)
    use_executor(runtime, executor)
    log.info("executor: %s", name)
    return executor


def schema_revisions(settings: Settings) -> tuple[str | None, str | None]:
    """The database's schema revision (None: not initialised) and the code's head revision."""
    from alembic.script import ScriptDirectory

    url = settings.db_url
    return current_revision(url), ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def migrate(settings: Settings) -> str | None:
    """Create or upgrade the schema; the revision it is at afterwards."""
    upgrade(settings.db_url)
    return current_revision(settings.db_url)
