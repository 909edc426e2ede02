"""The pieces of the whole-system run (tests/system/test_system.py): the items it approves,
the faults it injects, the services it starts, and the summary it prints.

Reuses tests/tasks/harness.py for the Celery processes and the private redis-server."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from publisher.runtime import Runtime
from publisher.store.models import Attempt, ChannelState, Delivery, Item, ItemVersion
from tests.samples import policy, sample
from tests.support import wait_for
from tests.tasks.harness import ROOT, RedisServer, toml_value
from tests.wordpress_support import WordPress, start_wordpress

T = TypeVar("T")
TERMINAL = frozenset({"delivered", "failed", "superseded"})


# ------------------------------------------------------------------------------ services


@dataclass
class PersistentRedis(RedisServer):
    """A private redis-server with an append-only file synced on every write: the WeChat
    adapter keeps its per-delivery progress and article memory here (state, not a queue), so
    a restart must not lose it. The broker is the other, non-persistent RedisServer."""

    persistence: ClassVar[tuple[str, ...]] = ("--appendonly", "yes", "--appendfsync", "always")


def wordpress() -> WordPress:
    """Runs the idempotent setup script (fast when up); raises when WordPress cannot start."""
    return start_wordpress()


def wordpress_answers(wp: WordPress) -> bool:
    try:
        return httpx.get(f"{wp.url}/wp-json/", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def restart_apache(wp: WordPress) -> None:
    """`apache2ctl restart`: every Apache child goes away (requests in flight are cut) and
    comes back; the setup script then checks everything is up as before."""
    subprocess.run(["apache2ctl", "restart"], capture_output=True, timeout=60, check=False)
    wait_for(lambda: wordpress_answers(wp), 60, "WordPress did not come back after apache2ctl restart")


def ensure_wordpress_up() -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-wordpress.sh"), "start"],
        capture_output=True,
        timeout=300,
        check=True,
    )


def write_system_config(
    path: Path,
    *,
    db_url: str,
    broker_url: str,
    public_base_url: str,
    channels: dict[str, dict[str, Any]],
    subscribers: dict[str, str],
    webhook: dict[str, Any],
    lease_seconds: int,
    sweep_interval: float,
    inspection: dict[str, Any] | None = None,
) -> Path:
    lines = [
        f"data_dir = {toml_value(str(path.parent / 'data'))}",
        f"public_base_url = {toml_value(public_base_url)}",
        "[database]",
        f"url = {toml_value(db_url)}",
        "[broker]",
        f"url = {toml_value(broker_url)}",
        "[executor]",
        f"lease_seconds = {lease_seconds}",
        f"sweep_interval_seconds = {sweep_interval}",
    ]
    if inspection:
        lines.append("[inspection]")
        lines += [f"{k} = {toml_value(v)}" for k, v in inspection.items()]
    for name, section in channels.items():
        lines.append(f"[channels.{name}]")
        nested = {k: v for k, v in section.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        for k, v in section.items():
            if k not in nested:
                lines.append(f"{k} = {toml_value(v)}")
        for k, rows in nested.items():
            for row in rows:
                lines.append(f"[[channels.{name}.{k}]]")
                lines += [f"{rk} = {toml_value(rv)}" for rk, rv in row.items()]
    lines += ["[channels.webhook]", "enabled = true"]
    lines += [f"{k} = {toml_value(v)}" for k, v in webhook.items()]
    for name, url in subscribers.items():
        lines += [
            "[[channels.webhook.subscribers]]",
            f"name = {toml_value(name)}",
            f"url = {toml_value(url)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ items


def short(n: int, what: str) -> str:
    """Titles WeChat takes without a short title (at most 32 characters)."""
    return f"关于{what}的通知（第{n}号）"


def group_items(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A policy and its interpretation, released together (三同步)."""
    pol = policy(
        title=short(n, "规范财政资金管理"),
        ref=f"sys-pol-{n}",
        release_group=f"sys-g-{n}",
        description=f"规范财政资金管理（第{n}号）。",
        body_html=f"<p>政策正文 {n}。</p>",
        keywords=["财政", "预算"],
    )
    interp = {
        "type": "interpretation",
        "ref": f"sys-int-{n}",
        "interprets": f"sys-pol-{n}",
        "release_group": f"sys-g-{n}",
        "title": f"《第{n}号通知》政策解读",
        "issue_date": "2026-11-20",
        "subject": "财政\\预算",
        "description": f"解读第{n}号通知。",
        "body_html": f"<p>解读正文 {n}。</p>",
    }
    return pol, interp


SINGLE_KINDS = ("notice", "policy", "fee_change", "consultation", "procurement_result")


def single_item(n: int) -> dict[str, Any]:
    kind = SINGLE_KINDS[n % len(SINGLE_KINDS)]
    if kind == "notice":
        return policy(
            type="notice",
            title=short(n, "预算公开工作安排"),
            ref=f"sys-not-{n}",
            description=f"预算公开工作安排（{n}）。",
            body_html=f"<p>通知正文 {n}。</p>",
            doc_number=None,
        )
    if kind == "policy":
        return policy(
            title=short(n, "加强政府采购管理"),
            ref=f"sys-pol1-{n}",
            description=f"政府采购管理（{n}）。",
            body_html=f"<p>正文 {n}。</p>",
        )
    ref = {
        "fee_change": "fee-2019-adjust",
        "consultation": "consult-2019-01",
        "procurement_result": "proc-2019-001",
    }[kind]
    item = sample(
        ref,
        title=short(
            n,
            {
                "fee_change": "调整行政事业性收费",
                "consultation": "征求预算管理意见",
                "procurement_result": "采购结果公告",
            }[kind],
        ),
    )
    item.pop("sample", None)
    item["ref"] = f"sys-{kind}-{n}"
    return item


# What happens to single n after its first approval (a few get two changes).
def plan_for(n: int) -> list[str]:
    return {
        0: ["update"],
        1: ["update"],
        2: ["abolish"],
        3: ["withdraw"],
        4: ["update", "abolish"],
        5: [],
        6: [],
        7: ["update", "withdraw"],
    }[n % 8]


@dataclass
class Actors:
    editor: Any
    reviewer: Any
    approver: Any


DEADLOCKS: list[str] = []


def retrying(what: str, action: Callable[[], T]) -> T:
    """What a client does with a 500 from a deadlock: try again (the transaction was rolled
    back). Each one is counted: PostgreSQL deadlocks between a transition's audit-head lock
    and a worker's ledger update are a finding of this run, reported for issue #10."""
    for _ in range(5):
        try:
            return action()
        except OperationalError as exc:
            if "deadlock" not in str(exc):
                raise
            DEADLOCKS.append(what)
            time.sleep(0.2)
    return action()


def approve_new(rt: Runtime, a: Actors, *items: dict[str, Any]) -> list[str]:
    svc = rt.service
    uids = [svc.create_item(a.editor, it).uid for it in items]
    for uid in uids:
        svc.submit(a.editor, uid)
        svc.review(a.reviewer, uid)
    retrying("approve", lambda: svc.approve(a.approver, uids[-1]))  # the whole release group
    return uids


def change(rt: Runtime, a: Actors, uid: str, what: str, n: int) -> None:
    svc = rt.service
    if what == "update":
        svc.update_item(
            a.editor,
            uid,
            {"description": f"修订后的内容概述（第{n}次修订）。", "body_html": f"<p>修订后的正文 {n}。</p>"},
        )
        svc.submit(a.editor, uid)
        svc.review(a.reviewer, uid)
        retrying("approve", lambda: svc.approve(a.approver, uid))
    elif what == "abolish":
        retrying("abolish", lambda: svc.abolish(a.approver, uid, on=date(2026, 12, 1)))
    elif what == "withdraw":
        retrying(
            "withdraw", lambda: svc.withdraw(a.approver, uid, "系统测试撤回 / withdrawn by the system run")
        )
    else:
        raise ValueError(what)


# ------------------------------------------------------------------------------ faults


@dataclass
class Faults:
    """Runs (offset seconds, name, action) on a schedule in a thread; records what ran."""

    schedule: list[tuple[float, str, Callable[[], None]]]
    done: list[tuple[float, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self, t0: float) -> Faults:
        def run() -> None:
            for at, name, action in sorted(self.schedule, key=lambda s: s[0]):
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                try:
                    action()
                    self.done.append((round(time.monotonic() - t0, 1), name))
                except BaseException as exc:  # surfaced by the test thread
                    self.errors.append(exc)
                    return

        self.thread = threading.Thread(target=run, name="faults", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the fault schedule did not finish"
        if self.errors:
            raise self.errors[0]


def kill_and_restart(proc: Any, down: float = 1.0) -> Callable[[], None]:
    def action() -> None:
        proc.kill(signal.SIGKILL)
        time.sleep(down)
        proc.start()

    return action


# ------------------------------------------------------------------------------ ledger views


def delivery_states(rt: Runtime) -> dict[str, int]:
    with rt.db.reader() as s:
        return dict(s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).tuples().all())


def stuck_report(rt: Runtime) -> str:
    """Deliveries not in a terminal state, per channel and state, with the channels' own
    state and a few last errors: what a failed drain assertion needs to say."""
    with rt.db.reader() as s:
        stuck = (
            s.execute(
                select(Delivery.channel, Delivery.state, func.count())
                .where(Delivery.state.not_in(TERMINAL))
                .group_by(Delivery.channel, Delivery.state)
            )
            .tuples()
            .all()
        )
        channels = (
            s.execute(
                select(
                    ChannelState.channel,
                    ChannelState.paused,
                    ChannelState.pause_reason,
                    ChannelState.breaker,
                    ChannelState.consecutive_failures,
                )
            )
            .tuples()
            .all()
        )
        errors = (
            s.execute(
                select(
                    Delivery.id,
                    Delivery.channel,
                    Delivery.operation,
                    Delivery.attempts,
                    Delivery.after_delivery_id,
                    Delivery.dispatched_at,
                    Delivery.next_attempt_at,
                    Delivery.last_error,
                )
                .where(Delivery.state.not_in(TERMINAL))
                .order_by(Delivery.id.desc())
                .limit(5)
            )
            .tuples()
            .all()
        )
        failed = (
            s.execute(
                select(
                    Delivery.id, Delivery.channel, Delivery.operation, Delivery.attempts, Delivery.last_error
                )
                .where(Delivery.state == "failed")
                .limit(5)
            )
            .tuples()
            .all()
        )
        tries = (
            s.execute(
                select(Attempt.delivery_id, Attempt.outcome, Attempt.provider_code, Attempt.error)
                .where(Attempt.delivery_id.in_([f[0] for f in failed] or [0]))
                .order_by(Attempt.id)
            )
            .tuples()
            .all()
        )
    return (
        f"stuck: {stuck}\nchannels: {channels}\nnot terminal: {errors}\nfailed: {failed}\nattempts: {tries}"
    )


def all_terminal(rt: Runtime) -> bool:
    return set(delivery_states(rt)) <= TERMINAL


def attempt_outcomes(rt: Runtime) -> Counter[str]:
    with rt.db.reader() as s:
        return Counter(
            dict(s.execute(select(Attempt.outcome, func.count()).group_by(Attempt.outcome)).tuples().all())
        )


@dataclass(frozen=True)
class Truth:
    """What an item should look like on a channel, from the items themselves (not the ledger)."""

    uid: str
    type: str
    live: bool
    version: int
    validity: str


def truth(rt: Runtime) -> dict[str, Truth]:
    with rt.db.reader() as s:
        latest = dict(
            s.execute(select(ItemVersion.item_id, func.max(ItemVersion.number)).group_by(ItemVersion.item_id))
            .tuples()
            .all()
        )
        out: dict[str, Truth] = {}
        for item in s.execute(select(Item)).scalars():
            number = latest.get(item.id)
            if number is None:
                continue  # never approved
            version = s.execute(
                select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.number == number)
            ).scalar_one()
            out[item.uid] = Truth(
                item.uid, item.type, item.state != "withdrawn", number, str(version.content.get("validity"))
            )
        return out
