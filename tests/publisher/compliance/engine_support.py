"""A runtime that really delivers: the embedded executor and the rss channel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from publisher.delivery.executor import EmbeddedExecutor
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings
from tests.conftest import Team


@pytest.fixture
def live(settings: Settings, team: Team) -> Iterator[Runtime]:
    rt = build_runtime(settings.replace(channels={"rss": {"enabled": True}}))
    use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=1, sweep_interval=0.05))
    rt.start()
    yield rt
    rt.close()


def delivered(rt: Runtime, uid: str) -> bool:
    rows = rt.service.deliveries(uid)
    return bool(rows) and all(d["state"] == "delivered" for d in rows)
