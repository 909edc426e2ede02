"""Small helpers shared by tests that drive items through the workflow and wait on the ledger."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from sqlalchemy import event

from publisher.editorial.service import Service
from publisher.editorial.workflow import Outcome
from publisher.runtime import Runtime
from publisher.store.db import Database
from tests.conftest import Team
from tests.samples import policy

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition", every: float = 0.05
) -> T:
    """The one polling helper: ask `predicate` every `every` seconds until it returns something
    true, and return that (a confirmation, a response); fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(every)


def answering(url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 30.0) -> httpx.Response:
    """Wait until a server started in a subprocess answers `url` 200 (with wait_for), and return
    that answer; fail at once, with what it printed, if the process `proc` died instead."""

    def up() -> httpx.Response | None:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the server exited ({proc.returncode}) before answering {url}: {out!r}")
        try:
            r = httpx.get(url, timeout=2)
        except httpx.TransportError:
            return None
        return r if r.status_code == 200 else None

    return wait_for(up, timeout, f"{url} answering")


def after_sweeps(rt: Runtime, rounds: int = 3, timeout: float = 20.0) -> None:
    """Wait until the embedded executor's sweeper has completed `rounds` more rounds: what
    "nothing happened" must be measured against (each round would have sent anything due),
    instead of a fixed sleep."""
    from publisher.delivery.executor import EmbeddedExecutor

    executor = rt.executor
    assert isinstance(executor, EmbeddedExecutor), "after_sweeps needs the embedded executor"
    start = executor.sweeps
    wait_for(lambda: executor.sweeps >= start + rounds, timeout, f"{rounds} sweeps")


def _service(target: Service | Runtime) -> Service:
    return target.service if isinstance(target, Runtime) else target


def publish(
    target: Service | Runtime, team: Team, data: dict[str, Any] | None = None, **overrides: Any
) -> str:
    """The one "approve an item" helper: create `data` (default: a policy with `overrides`) as
    the team's editor and take it through submit, review and approve; returns its uid."""
    item = _service(target).create_item(team.editor, data if data is not None else policy(**overrides))
    approve_existing(target, team, item.uid)
    return item.uid


def approve_existing(target: Service | Runtime, team: Team, uid: str) -> Outcome:
    """Take an existing draft through submit, review and approve; the approval's outcome
    (its deliveries and their channels)."""
    service = _service(target)
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    return service.approve(team.approver, uid)


def ops(rt: Runtime, uid: str) -> list[tuple[str, str]]:
    """The item's deliveries as (operation, state), oldest first."""
    return [(d["operation"], d["state"]) for d in rt.service.deliveries(uid)]


def settled(rt: Runtime, uid: str, n: int) -> bool:
    """The item has n deliveries and every one has ended (delivered or failed)."""
    states = [s for _op, s in ops(rt, uid)]
    return len(states) == n and all(s in ("delivered", "failed") for s in states)


def policy_form(**overrides: str) -> dict[str, str]:
    """The editor form of a valid policy item, as the pages post it."""
    form = {
        "type": "policy",
        "title": "关于进一步规范财政资金管理的通知",
        "issue_date": "2026-11-20",
        "doc_number": "沪财预[2026]12号",
        "subject": "财政\\预算",
        "description": "规范财政资金管理。",
        "keywords": "财政资金，预算",
        "body_html": "<p>正文。</p>",
        "disclosure": "主动公开",
        "scope": "面向社会",
    }
    form.update(overrides)
    return form


@contextmanager
def on_statements(db: Database, keep: Callable[[str, Any], None]) -> Iterator[None]:
    """Call `keep(statement, params)` for every SQL statement run on the database's engines
    (the writer's and, where it has its own, the reader's) meanwhile."""

    def listener(_conn: object, _cur: object, statement: str, params: Any, _ctx: object, _many: bool) -> None:
        keep(statement, params)

    engines = {id(e): e for e in (db.engine, db.read_engine) if e is not None}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", listener)
