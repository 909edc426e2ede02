"""Nothing lost on SIGTERM: `publisher serve` records the alert with the failure and is
stopped before group_wait has passed; the alert is in the store, and the next `serve` tells it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from publisher.store.models import AlertEvent, Delivery
from tests.conftest import Team
from tests.receiver import SECRET
from tests.support import publish, wait_for
from tests.tasks.harness import free_port

from .support import Ops

ROOT = Path(__file__).resolve().parents[3]
GROUP_WAIT = 8.0  # longer than serve takes to stop, even on a busy machine


# `publisher serve` runs on the runtime's SQLite file
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_sigterm_before_group_wait_loses_no_alert(o: Ops, team: Team, tmp_path: Path) -> None:
    # this process approves only (o.rt has no executor); `publisher serve` delivers and alerts
    rt = o.rt
    config = tmp_path / "publisher.toml"
    config.write_text(
        "\n".join(
            [
                f'data_dir = "{rt.settings.data_dir}"',
                "[database]",
                f'url = "{rt.settings.db_url}"',
                "[executor]",
                "sweep_interval_seconds = 0.2",
                "[channels.rss]",
                "enabled = false",
                "[channels.webhook]",
                "enabled = true",
                'secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"',
                "[[channels.webhook.subscribers]]",
                'name = "hooks"',
                f'url = "{o.subscriber.url}"',
                "[alerts]",
                f"group_wait_seconds = {GROUP_WAIT}",
                f'webhooks = ["{o.alerts.url}"]',
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
    serve_argv = [sys.executable, "-c", "from publisher.cli import main; main()", "serve", "--port"]
    log = (tmp_path / "serve.log").open("ab")
    proc: subprocess.Popen[bytes] | None = None
    try:
        publish(rt, team, title="停机前失败的投递")

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
        assert o.alerts.hits == []
        # when serve starts again, the alert from the store is told, once
        proc = subprocess.Popen(
            [*serve_argv, str(free_port())], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: len(o.alerts.hits) == 1, 30, "the alert after the restart")
        [hit] = o.alerts.hits
        assert hit.signature_ok and hit.body["kind"] == "delivery.failed"
        assert [i["title"] for i in hit.body["items"]] == ["停机前失败的投递"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()
