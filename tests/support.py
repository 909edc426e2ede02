"""Small helpers shared by tests that drive items through the workflow and wait on the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from publisher.editorial.service import Service
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.samples import policy


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout} s")


def publish(service: Service, team: Team, **overrides: Any) -> str:
    """Create a policy and take it through submit, review and approve; returns its uid."""
    item = service.create_item(team.editor, policy(**overrides))
    service.submit(team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    service.approve(team.approver, item.uid)
    return item.uid


def approve_existing(rt: Runtime, team: Team, uid: str) -> None:
    """Take an existing draft through submit, review and approve."""
    rt.service.submit(team.editor, uid)
    rt.service.review(team.reviewer, uid)
    rt.service.approve(team.approver, uid)


def ops(rt: Runtime, uid: str) -> list[tuple[str, str]]:
    """The item's deliveries as (operation, state), oldest first."""
    return [(d["operation"], d["state"]) for d in rt.service.deliveries(uid)]


def settled(rt: Runtime, uid: str, n: int) -> bool:
    """The item has n deliveries and every one has ended (delivered or failed)."""
    states = [s for _op, s in ops(rt, uid)]
    return len(states) == n and all(s in ("delivered", "failed") for s in states)
