"""/metrics against a store with real deliveries: checked by `promtool check metrics` (Debian's
prometheus package, installed by the session fixture when missing: the test fails if it
cannot be), and the values read back match the ledger. Also the dashboard's channel health."""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from publisher.observe import metrics
from publisher.observe.metrics import channel_health, oldest_due, oldest_pending
from publisher.runtime import Runtime
from publisher.store.db import Database
from publisher.store.models import Attempt, Delivery
from publisher.web import create_app
from tests.conftest import Team
from tests.publisher.store.test_counters import NOW, _apply, _user
from tests.receiver import Receiver, webhook_channels
from tests.support import publish, wait_for


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], receiver: Receiver) -> tuple[Runtime, Receiver]:
    return make_runtime(webhook_channels(receiver.url, retry={"max_attempts": 1}), threads=1), receiver


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_pass_promtool_and_match_the_ledger(
    runtime: tuple[Runtime, Receiver], team: Team, promtool: str
) -> None:
    rt, receiver = runtime
    # given one delivered and one refused (400) delivery, then a paused channel holding a third
    ok = publish(rt.service, team, title="成功的政策")
    wait_for(lambda: rt.service.deliveries(ok)[0]["state"] == "delivered")
    receiver.answer(400)
    bad = publish(rt.service, team, title="失败的政策")
    wait_for(lambda: rt.service.deliveries(bad)[0]["state"] == "failed")
    rt.engine.pause("webhook.hooks", "维护", "ops")
    held = publish(rt.service, team, title="暂缓的政策")
    wait_for(lambda: rt.service.deliveries(held)[0]["state"] == "held")

    with TestClient(create_app(rt)) as client:
        r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    check = subprocess.run(
        [promtool, "check", "metrics"], input=r.text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr

    m = samples(r.text)
    ch = (("channel", "webhook.hooks"),)
    assert m[("publisher_deliveries_total", (("channel", "webhook.hooks"), ("outcome", "success")))] == 1
    assert m[("publisher_deliveries_total", (("channel", "webhook.hooks"), ("outcome", "permanent")))] == 1
    assert m[("publisher_delivery_latency_seconds_count", ch)] == 2
    assert (
        m[("publisher_delivery_latency_seconds_bucket", (("channel", "webhook.hooks"), ("le", "+Inf")))] == 2
    )
    assert 0 < m[("publisher_delivery_latency_seconds_sum", ch)] < 10
    for state in ("delivered", "failed", "held"):
        assert m[("publisher_deliveries", (("channel", "webhook.hooks"), ("state", state)))] == 1
    assert m[("publisher_channel_paused", ch)] == 1 and m[("publisher_breaker_open", ch)] == 0
    assert m[("publisher_outbox_oldest_age_seconds", ch)] > 0
    assert m[("publisher_items", (("state", "published"), ("type", "policy")))] == 3


def test_channel_health_ratio_latency_queue_and_age(
    runtime: tuple[Runtime, Receiver], team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, receiver = runtime
    receiver.answer(400)
    failed = publish(rt.service, team, title="失败")
    wait_for(lambda: rt.service.deliveries(failed)[0]["state"] == "failed")
    for n in range(3):
        uid = publish(rt.service, team, title=f"成功{n}")
        wait_for(lambda u=uid: rt.service.deliveries(u)[0]["state"] == "delivered")  # type: ignore[misc]
    [h] = channel_health(rt.db, rt.settings, ["webhook.hooks"])
    assert h.sampled == 4 and h.success_ratio == 0.75
    assert h.p50_ms is not None and h.p95_ms is not None and 0 < h.p50_ms <= h.p95_ms
    # the database ranks the sample; the figures are statistics.quantiles' over the same attempts
    with rt.db.reader() as s:
        durations = [float(d) for d in s.execute(select(Attempt.duration_ms).order_by(Attempt.id)).scalars()]
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    assert (h.p50_ms, h.p95_ms) == (cuts[49], cuts[94])
    # a smaller sample keeps the newest attempts only (the three successes), and one is itself
    [h3] = channel_health(rt.db, rt.settings, ["webhook.hooks"], sample=3)
    cuts = statistics.quantiles(durations[-3:], n=100, method="inclusive")
    assert h3.sampled == 3 and h3.success_ratio == 1.0 and (h3.p50_ms, h3.p95_ms) == (cuts[49], cuts[94])
    [h1] = channel_health(rt.db, rt.settings, ["webhook.hooks"], sample=1)
    assert h1.sampled == 1 and h1.p50_ms == h1.p95_ms == durations[-1]
    # the sample comes from the store's newest HEALTH_WINDOW attempts over all channels
    with monkeypatch.context() as m:
        m.setattr(metrics, "HEALTH_WINDOW", 2)
        [h2] = channel_health(rt.db, rt.settings, ["webhook.hooks"])
    cuts = statistics.quantiles(durations[-2:], n=100, method="inclusive")
    assert h2.sampled == 2 and (h2.p50_ms, h2.p95_ms) == (cuts[49], cuts[94])
    assert (
        h.queue_depth == 0 and h.oldest_pending_seconds is None and h.counts == {"failed": 1, "delivered": 3}
    )
    rt.engine.pause("webhook.hooks", "维护", "ops")
    uid = publish(rt.service, team, title="暂缓")
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "held")
    [h] = channel_health(rt.db, rt.settings, ["webhook.hooks"])
    assert h.paused and h.pause_reason == "维护" and h.queue_depth == 1
    assert h.oldest_pending_seconds is not None and h.oldest_pending_seconds >= 0


def test_oldest_due_follows_the_moment_asked_about(db: Database) -> None:
    """The due probe's statement is built once per set of channels and takes `now` as a
    parameter: each call answers for its own moment."""
    user = _user(db)
    _apply(db, user, ("items", 1, "policy", "published"))
    _apply(db, user, ("deliveries", 1, "rss", "retry_wait"))
    _apply(db, user, ("deliveries", 1, "rss", "queued"))
    _apply(db, user, ("deliveries", 1, "cms", "delivered"))
    with db.transaction() as s:
        ids = s.execute(select(Delivery.id).order_by(Delivery.id)).scalars().all()
        for d, at in zip(ids, (NOW, NOW + timedelta(hours=1), NOW - timedelta(hours=2)), strict=True):
            s.execute(update(Delivery).where(Delivery.id == d).values(next_attempt_at=at))
    with db.reader() as s:
        assert oldest_due(s, ["rss", "cms"], NOW - timedelta(minutes=1)) == {}
        assert oldest_due(s, ["rss", "cms"], NOW) == {"rss": NOW}
        assert oldest_due(s, ["rss", "cms"], NOW + timedelta(hours=3)) == {"rss": NOW}
        assert oldest_pending(s, ["rss", "cms"]) == {"rss": NOW}
        assert oldest_pending(s, []) == {} and oldest_due(s, [], NOW) == {}
