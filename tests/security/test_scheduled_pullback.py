"""An approved item scheduled with publish_at and pulled back into editing never releases the
approved version later: its unsent deliveries are superseded at the edit, so neither the
executor (which would find them due at publish_at) nor the release of scheduled items sends
them. Through the API, with the embedded executor running. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from publisher.runtime import Runtime
from tests.samples import policy
from tests.security.people import Office, open_office
from tests.support import after_sweeps, wait_for


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def test_a_scheduled_approval_pulled_back_never_goes_out(office: Office) -> None:
    at = datetime.now(UTC) + timedelta(seconds=3)
    editor = office.api("editor")
    uid = editor.post("/api/items", json=policy(publish_at=at.isoformat())).json()["uid"]
    assert editor.post(f"/api/items/{uid}/submit").status_code == 200
    assert office.api("reviewer").post(f"/api/items/{uid}/review").status_code == 200
    assert office.api("approver").post(f"/api/items/{uid}/approve").status_code == 200
    ops = office.api("ops")
    assert ops.get(f"/api/items/{uid}").json()["state"] == "approved"
    queued = ops.get(f"/api/items/{uid}/deliveries").json()
    assert queued and {d["state"] for d in queued} == {"queued"}

    # the editor pulls it back before publish_at
    r = editor.patch(f"/api/items/{uid}", json={"title": "关于进一步规范财政资金管理的通知（改期重审）"})
    assert r.status_code == 200 and r.json()["state"] == "draft"
    assert {d["state"] for d in ops.get(f"/api/items/{uid}/deliveries").json()} == {"superseded"}
    [edit] = [e for e in ops.get("/api/audit", params={"item": uid}).json() if e["action"] == "edit"]
    assert edit["data"]["superseded"] == len(queued)

    # publish_at passes and the executor's sweeper goes round after it (each round releases
    # what is due): nothing goes out, nothing is released
    wait_for(lambda: datetime.now(UTC) > at, 10, "publish_at passed")
    after_sweeps(office.runtime, 3)
    assert office.runtime.service.release_due().items == []
    assert {d["state"] for d in ops.get(f"/api/items/{uid}/deliveries").json()} == {"superseded"}
    assert ops.get(f"/api/items/{uid}").json()["state"] == "draft"
