"""The embedded executor's crash story: the process running it is SIGKILLed in the middle of
sends and started again; the SQLite ledger, its leases and the sweeper bring every delivery
home, each with exactly one successful attempt."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher.runtime import Runtime, build_runtime
from publisher.settings import load_settings
from publisher.store.models import Attempt, Delivery
from tests.receiver import SECRET, Receiver
from tests.samples import policy
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[3]  # the checkout (tests/publisher/delivery/…)

# What `publisher serve` runs for deliveries, without the web server: runtime, engine,
# embedded executor, until killed.
EXECUTOR_PROCESS = """
import threading
from publisher.delivery.executor import EmbeddedExecutor
from publisher.runtime import build_runtime, use_executor
from publisher.settings import load_settings

rt = build_runtime(load_settings())
use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=2, sweep_interval=0.2))
rt.start()
print("executor running", flush=True)
threading.Event().wait()
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(delay=0.05).start()  # sends take a while, so a kill lands with sends in flight
    yield r
    r.stop()


@pytest.fixture
def config(tmp_path: Path, sqlite_template: Path, receiver: Receiver) -> Path:
    db = tmp_path / "publisher.db"
    shutil.copy(sqlite_template, db)
    lines = [
        f'data_dir = "{tmp_path / "data"}"',
        "[database]",
        f'url = "sqlite:///{db}"',
        "[executor]",
        "lease_seconds = 2",
        "sweep_interval_seconds = 0.2",
        "[channels.rss]",
        "enabled = false",
        "[channels.webhook]",
        "enabled = true",
        'secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"',
        "lease_seconds = 2",
        "retry = {base_seconds = 0.05, cap_seconds = 0.2, jitter = 0.0, max_attempts = 5}",
        "breaker = {failures = 1000, min_samples = 1000}",
    ]
    for name in ("a", "b"):
        lines += ["[[channels.webhook.subscribers]]", f'name = "{name}"', f'url = "{receiver.url}/{name}"']
    path = tmp_path / "publisher.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ExecutorProcess:
    def __init__(self, config: Path, log: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        self.env.update(
            {
                "PUBLISHER_CONFIG": str(config),
                "PUBLISHER_TEST_WEBHOOK_SECRET": SECRET,
                "PYTHONPATH": str(ROOT),
            }
        )
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", EXECUTOR_PROCESS],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def test_killed_and_restarted_embedded_executor_delivers_everything_once(
    config: Path, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", SECRET)
    # this process plays the editors: it approves, and leaves delivery to the executor process
    rt: Runtime = build_runtime(load_settings(env={}, path=config))
    executor = ExecutorProcess(config, tmp_path / "executor.log")
    try:
        svc = rt.service
        editor, _ = svc.add_user("editor", "editor")
        reviewer, _ = svc.add_user("reviewer", "reviewer")
        approver, _ = svc.add_user("approver", "approver")
        executor.start()
        errors: list[BaseException] = []

        def approve_all() -> None:
            try:
                for i in range(40):
                    item = svc.create_item(editor, policy(title=f"重启测试通知{i}"))
                    svc.submit(editor, item.uid)
                    svc.review(reviewer, item.uid)
                    svc.approve(approver, item.uid)
            except BaseException as exc:
                errors.append(exc)

        producer = threading.Thread(target=approve_all, daemon=True)
        producer.start()
        for threshold in (15, 40):
            wait_for(
                lambda t=threshold: len(receiver.hits) >= t,
                60,  # type: ignore[misc]
                f"receiver stuck below {threshold} hits:\n{executor.log.read_text(errors='replace')[-3000:]}",
            )
            executor.kill()
            executor.start()
        producer.join(60)
        assert not errors, errors

        def states() -> Counter[str]:
            with rt.db.reader() as s:
                return Counter(s.execute(select(Delivery.state)).scalars())

        wait_for(
            lambda: states() == Counter({"delivered": 80}),
            90,
            f"not all delivered: {states()}\n{executor.log.read_text(errors='replace')[-3000:]}",
        )
        with rt.db.reader() as s:
            deliveries = list(s.execute(select(Delivery)).scalars())
            attempts = list(s.execute(select(Attempt)).scalars())
        successes = Counter(a.delivery_id for a in attempts if a.outcome == "success")
        assert all(successes[d.id] == 1 for d in deliveries)
        assert {d.key for d in deliveries} <= set(receiver.ids(200))
        assert executor.starts == 3
        # the kills interrupted sends, and the restarted executor recovered them
        lost = [a for a in attempts if a.outcome == "lost"]
        assert lost and all(a.error and "租约" in a.error for a in lost)
    finally:
        executor.stop()
        rt.close()
