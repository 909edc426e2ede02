"""Helpers for the compliance tests: release items through the service, catch events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from publisher.domain.clock import SHANGHAI
from publisher.editorial.service import Service
from publisher.observe import events
from tests.conftest import Team
from tests.support import publish


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    """A clock for the test: Shanghai wall time, as an aware UTC datetime."""
    return datetime(y, m, d, hh, tzinfo=SHANGHAI).astimezone(UTC)


def release(service: Service, team: Team, data: dict[str, Any]) -> str:
    return publish(service, team, data)


def draft(service: Service, team: Team, data: dict[str, Any]) -> str:
    return service.create_item(team.editor, data).uid


@contextmanager
def caught(*names: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    got: list[tuple[str, dict[str, Any]]] = []

    def handler(name: str, data: dict[str, Any]) -> None:
        if not names or name in names:
            got.append((name, data))

    events.subscribe(handler)
    try:
        yield got
    finally:
        events.unsubscribe(handler)
