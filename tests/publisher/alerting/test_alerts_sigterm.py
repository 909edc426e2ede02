"""Nothing lost on SIGTERM: `publisher serve` records the alert with the failure and is
stopped before group_wait has passed; the alert is in the store, and the next `serve` tells it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from publisher.runtime import build_runtime
from publisher.settings import load_settings
from publisher.store.models import AlertEvent, Delivery
from tests.receiver import SECRET, Receiver
from tests.samples import policy
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[3]
GROUP_WAIT = 8.0  # longer than serve takes to stop, even on a busy machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def subscriber() -> Iterator[Receiver]:
    r = Receiver(default=400).start()
    yield r
    r.stop()


@pytest.fixture
def alerts_rx() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_sigterm_before_group_wait_loses_no_alert(
    tmp_path: Path,
    sqlite_template: Path,
    subscriber: Receiver,
    alerts_rx: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "publisher.db"
    shutil.copy(sqlite_template, db)
    config = tmp_path / "publisher.toml"
    config.write_text(
        "\n".join(
            [
                f'data_dir = "{tmp_path / "data"}"',
                "[database]",
                f'url = "sqlite:///{db}"',
                "[executor]",
                "sweep_interval_seconds = 0.2",
                "[channels.rss]",
                "enabled = false",
                "[channels.webhook]",
                "enabled = true",
                'secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"',
                "[[channels.webhook.subscribers]]",
                'name = "hooks"',
                f'url = "{subscriber.url}"',
                "[alerts]",
                f"group_wait_seconds = {GROUP_WAIT}",
                f'webhooks = ["{alerts_rx.url}"]',
                'webhook_secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update(
        {"PUBLISHER_CONFIG": str(config), "PUBLISHER_TEST_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    )
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", SECRET)
    rt = build_runtime(load_settings(env={}, path=config))  # this process approves only
    serve_argv = [sys.executable, "-c", "from publisher.cli import main; main()", "serve", "--port"]
    log = (tmp_path / "serve.log").open("ab")
    proc: subprocess.Popen[bytes] | None = None
    try:
        svc = rt.service
        actors = {r: svc.add_user(r, r)[0] for r in ("editor", "reviewer", "approver")}
        item = svc.create_item(actors["editor"], policy(title="停机前失败的投递"))
        svc.submit(actors["editor"], item.uid)
        svc.review(actors["reviewer"], item.uid)
        svc.approve(actors["approver"], item.uid)

        def count(model: type) -> int:
            with rt.db.reader() as s:
                stmt = select(func.count()).select_from(model)
                if model is Delivery:
                    stmt = stmt.where(Delivery.state == "failed")
                return int(s.execute(stmt).scalar_one())

        # when serve fails the delivery for good, recording the alert with it, and is stopped
        proc = subprocess.Popen(
            [*serve_argv, str(free_port())], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: count(Delivery) == 1, 30, "the delivery failed")
        assert count(AlertEvent) == 1  # committed with the failure
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GROUP_WAIT - 2) is not None
        # then nothing was sent before it stopped (group_wait had not passed)
        assert alerts_rx.hits == []
        # when serve starts again, the alert from the store is told, once
        proc = subprocess.Popen(
            [*serve_argv, str(free_port())], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: len(alerts_rx.hits) == 1, 30, "the alert after the restart")
        [hit] = alerts_rx.hits
        assert hit.signature_ok and hit.body["kind"] == "delivery.failed"
        assert [i["title"] for i in hit.body["items"]] == ["停机前失败的投递"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()
        rt.close()
