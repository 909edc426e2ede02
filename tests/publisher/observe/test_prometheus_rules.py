"""config/prometheus/alerts.yml: valid (`promtool check rules`), each rule firing when it
should and not before (`promtool test rules alerts.test.yml`), and written over metrics our
/metrics really exposes."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from publisher.domain.clock import utcnow
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.conftest import Team
from tests.receiver import Receiver, webhook_channels
from tests.support import publish, wait_for

RULES = Path(__file__).resolve().parents[3] / "config" / "prometheus"


def test_rules_pass_promtool_check_and_their_unit_tests(promtool: str) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", "alerts.yml"], cwd=RULES, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=RULES, capture_output=True, text=True, timeout=120
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_metric_the_rules_use_is_exposed(
    make_runtime: Callable[..., Runtime], receiver: Receiver, team: Team
) -> None:
    # given a store with a failed delivery and a tick of the alert clock that tried to tell it
    rt = make_runtime(
        webhook_channels(receiver.url, retry={"max_attempts": 1}),
        threads=1,
        alerts={"group_wait_seconds": 30, "webhooks": [receiver.url]},  # one try (refused: unsigned)
    )
    receiver.answer(400)
    uid = publish(rt.service, team, title="规则所需指标")
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "failed")
    rt.alerts.clock.tick(utcnow() + timedelta(seconds=31))
    with TestClient(create_app(rt)) as client:
        text = client.get("/metrics").text
    exposed = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    used = set(re.findall(r"\bpublisher_[a-z_]+", (RULES / "alerts.yml").read_text(encoding="utf-8")))
    assert used and used <= exposed, sorted(used - exposed)
