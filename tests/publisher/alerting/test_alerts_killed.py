"""A sender killed mid-send loses no alert: `publisher alerts send` (a process of its own) takes
the notification's send lease and is killed with SIGKILL while the target is still answering;
the notification stays leased until the lease expires, then the next tick sends it again under
the same webhook-id, so the receiver can tell it is the same alert."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from publisher.alerting.clock import SEND_LEASE
from publisher.domain.clock import utcnow
from tests.conftest import Team
from tests.publisher.cli_support import cli_env
from tests.receiver import SECRET
from tests.support import wait_for

from .support import Ops

ROOT = Path(__file__).resolve().parents[3]
CH = "webhook.hooks"


def test_a_sender_killed_mid_send_sends_again_after_its_lease(
    o: Ops, team: Team, db_url: str, tmp_path: Path
) -> None:
    # given a paused channel (its alert recorded) and a target slow to answer the first time
    o.rt.deliveries.pause(team.ops, CH, "维护")
    o.alerts.answer((200, {}, 20.0))
    env = {
        k: v
        for k, v in {
            **cli_env(tmp_path, db_url),
            "PUBLISHER_ALERTS_WEBHOOKS": json.dumps([o.alerts.url]),
            "PUBLISHER_ALERTS_WEBHOOK_SECRET": SECRET,
            "PUBLISHER_ALERTS_GROUP_WAIT_SECONDS": "0.001",
            "PUBLISHER_ALERTS_TIMEOUT_SECONDS": "60",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
        }.items()
        if v is not None
    }
    # when `publisher alerts send` is killed while the target is receiving the alert
    proc = subprocess.Popen(
        [sys.executable, "-c", "from publisher.cli import main; main()", "alerts", "send", "--as", "ops"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(o.alerts.hits) == 1, 60, "the alert reaching the target")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed_at = utcnow()
    [n] = o.notifications()
    assert (n.status, n.attempts) == ("sending", 0)  # leased, no outcome recorded
    # then nobody sends it while the dead sender's lease holds
    assert o.tick(killed_at + SEND_LEASE - timedelta(seconds=5)).sent == 0
    assert len(o.alerts.hits) == 1
    # and once the lease has expired, the next tick sends it again, under the same webhook-id
    assert o.tick(killed_at + SEND_LEASE + timedelta(seconds=1)).sent == 1
    first, again = o.alerts.hits
    assert again.status == 200 and again.signature_ok and again.body["kind"] == "channel.paused"
    assert again.webhook_id == first.webhook_id == f"alert_{n.id}"
    [n] = o.notifications()
    assert (n.status, n.attempts) == ("sent", 1)
