"""Ops endpoints over HTTP: list, inspect, replay one, replay a window, pause and resume."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.conftest import Team
from tests.receiver import Receiver, webhook_channels
from tests.support import publish, wait_for


@pytest.fixture
def setup(
    make_runtime: Callable[..., Runtime], receiver: Receiver, team: Team
) -> Iterator[tuple[Runtime, TestClient, Receiver]]:
    rt = make_runtime(
        webhook_channels(receiver.url, retry={"base_seconds": 0.05, "max_attempts": 2}), threads=1
    )
    with TestClient(create_app(rt)) as client:
        yield rt, client, receiver


def test_failed_queue_replay_one_and_window(setup: tuple[Runtime, TestClient, Receiver], team: Team) -> None:
    rt, client, receiver = setup
    ops = {"Authorization": f"Bearer {team.tokens['ops']}"}
    receiver.default = 400
    uids = [publish(rt.service, team, title=f"政策{i}") for i in range(3)]
    wait_for(lambda: all(rt.service.deliveries(u)[0]["state"] == "failed" for u in uids))

    # only ops (or admin) may look at and act on deliveries
    assert client.get("/api/deliveries?state=failed").status_code == 401
    editor = {"Authorization": f"Bearer {team.tokens['editor']}"}
    assert client.get("/api/deliveries?state=failed", headers=editor).status_code == 403

    failed = client.get("/api/deliveries?state=failed", headers=ops).json()
    assert failed["total"] == 3
    first = failed["deliveries"][0]["id"]
    detail = client.get(f"/api/deliveries/{first}", headers=ops).json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["permanent"]

    receiver.default = 200
    assert client.post(f"/api/deliveries/{first}/replay", headers=ops).json() == {"replayed": [first]}
    wait_for(lambda: client.get(f"/api/deliveries/{first}", headers=ops).json()["state"] == "delivered")
    # replaying something that is not failed is a 409 naming the state
    again = client.post(f"/api/deliveries/{first}/replay", headers=ops)
    assert again.status_code == 409 and again.json()["current_state"] == "delivered"

    window = client.post("/api/channels/webhook.hooks/replay-failed", json={}, headers=ops).json()
    assert len(window["replayed"]) == 2
    wait_for(lambda: all(rt.service.deliveries(u)[0]["state"] == "delivered" for u in uids))


def test_pause_holds_and_resume_releases(setup: tuple[Runtime, TestClient, Receiver], team: Team) -> None:
    rt, client, receiver = setup
    ops = {"Authorization": f"Bearer {team.tokens['ops']}"}
    r = client.post("/api/channels/webhook.hooks/pause", json={"reason": "接收方维护"}, headers=ops)
    assert r.status_code == 200 and r.json()["paused"] is True
    uid = publish(rt.service, team, title="暂停期间的政策")
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "held")
    assert receiver.hits == []
    r = client.post("/api/channels/webhook.hooks/resume", headers=ops)
    assert r.json()["paused"] is False and r.json()["released"] == 1
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "delivered")
    states = client.get("/api/channels", headers=ops).json()
    assert [c["channel"] for c in states] == ["webhook.hooks"]
    assert states[0]["counts"] == {"delivered": 1}
    assert client.post("/api/channels/x/pause", json={"reason": ""}, headers=ops).status_code == 422
