"""Wiring: settings → store → channels → service → executor. One place builds it all, so the
CLI, the web app, Celery workers and tests start the same thing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from publisher.delivery.channelset import ChannelSet
from publisher.delivery.engine import Engine
from publisher.delivery.inspection import Inspector
from publisher.delivery.service import DeliveryService
from publisher.editorial.checks import ContentChecks, Fetcher
from publisher.editorial.checks.service import CheckService
from publisher.editorial.service import Service
from publisher.settings import Settings, SettingsError, check_settings
from publisher.store.db import Database
from publisher.store.migrate import alembic_config, current_revision, upgrade

if TYPE_CHECKING:  # imported on first use: a worker process never needs it
    from publisher.alerting.service import AlertService
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
    checks: ContentChecks | None = None
    extras: dict[str, object] = field(default_factory=dict)
    _compliance: ComplianceService | None = field(default=None, repr=False)
    _check_service: CheckService | None = field(default=None, repr=False)

    @property
    def check_service(self) -> CheckService:
        """The content checks for the API, the pages and the CLI (built on first use)."""
        if self._check_service is None:
            if self.checks is None:  # a runtime built without them (never by build_runtime)
                self.checks = ContentChecks(self.settings)
            self._check_service = CheckService(self.db, self.settings, self.channels, self.checks)
        return self._check_service

    _alerts: AlertService | None = field(default=None, repr=False)

    @property
    def alerts(self) -> AlertService:
        """Firing and recent alerts, silences, the alert clock (publisher/alerting/)."""
        if self._alerts is None:
            from publisher.alerting.clock import AlertClockRunner
            from publisher.alerting.service import AlertService

            self._alerts = AlertService(self.db, AlertClockRunner(self.db, self.settings))
        return self._alerts

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
        if self.checks is not None:
            self.checks.close()
        self.db.dispose()


def build_runtime(settings: Settings, *, migrate: bool = False, executor: Executor | None = None) -> Runtime:
    """Everything one process runs, from `settings`, checked first (every enabled channel's
    section against its adapter's settings model): a mistake fails here, at start-up, with
    a SettingsError naming the channel and the key."""
    check_settings(settings)
    if migrate:
        upgrade(settings.db_url)
    db = Database(settings.db_url)
    channels = ChannelSet(settings, db)
    checks = ContentChecks(settings, fetcher=link_fetcher(settings))
    service = Service(db, settings, preflight=channels.preflight, checks=checks)
    db.use_audit_keys(service.audit_keys)  # every event this process appends is keyed
    engine = Engine(db, settings, channels)
    inspector = Inspector(
        db, settings, channels, guarded_fetcher(settings, settings.inspection.link_timeout_seconds)
    )
    deliveries = DeliveryService(db, settings, engine, channels, service, inspector)
    runtime = Runtime(
        settings=settings,
        db=db,
        channels=channels,
        service=service,
        engine=engine,
        deliveries=deliveries,
        checks=checks,
    )
    _ = runtime.alerts  # a bad [alerts] section (unknown kind, broken secret) fails at start-up
    # the alert clock looks after every sweep of whichever executor clock runs (embedded, beat)
    # and ticks when something can be due (AlertClockRunner.on_sweep)
    engine.after_sweep.append(lambda now: runtime.alerts.clock.on_sweep(now))
    # post-publication inspection on the same clock (it runs in its own thread)
    engine.after_sweep.append(inspector.on_sweep)
    if executor is not None:
        use_executor(runtime, executor)
    return runtime


def link_fetcher(settings: Settings) -> Fetcher | None:
    """How the content checks probe links at approval: through the egress guard, each link
    within `[checks] link_timeout_seconds` (None: links are not probed)."""
    if not settings.checks.links:
        return None
    return guarded_fetcher(settings, settings.checks.link_timeout_seconds)


def guarded_fetcher(settings: Settings, limit: float) -> Fetcher:
    """A link prober through the egress guard (`[egress]`), each link within `limit` seconds:
    the content checks' and post-publication inspection's."""
    from dataclasses import replace

    from channels.egress import EgressGuard, egress_settings
    from publisher.editorial.checks.fetch import GuardedFetcher

    try:
        egress = egress_settings(settings.egress.model_dump())
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    return GuardedFetcher(
        EgressGuard(
            replace(
                egress,
                total_seconds=min(egress.total_seconds, limit),
                connect_timeout=min(egress.connect_timeout, limit),
            )
        )
    )


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
