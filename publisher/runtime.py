"""Wiring: settings → store → channels → service → executor. One place builds it all, so the
CLI, the web app, Celery workers and tests start the same thing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from .channelset import ChannelSet
from .db import Database
from .migrate import upgrade
from .service import Service
from .settings import Settings

log = logging.getLogger(__name__)


class Executor(Protocol):
    """What sends due deliveries: the embedded thread pool or the Celery bridge."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def wake(self, delivery_ids: list[int]) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    db: Database
    channels: ChannelSet
    service: Service
    executor: Executor | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def start(self) -> None:
        if self.executor is not None:
            self.executor.start()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.stop()
        self.channels.close()
        self.db.dispose()


def build_runtime(settings: Settings, *, migrate: bool = False, executor: Executor | None = None) -> Runtime:
    if migrate:
        upgrade(settings.db_url)
    db = Database(settings.db_url)
    channels = ChannelSet(settings)
    service = Service(db, settings, preflight=channels.preflight)
    runtime = Runtime(settings=settings, db=db, channels=channels, service=service, executor=executor)
    if executor is not None:
        service.add_waker(executor.wake)
    return runtime
