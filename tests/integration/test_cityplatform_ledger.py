"""The cityplatform channel through the ledger: approve -> embedded executor -> accepted ->
confirmed by the sweeper's receipt polling -> delivered, against the reference receiver
running in a thread over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Any

import pytest

from channels import signing
from channels.standins.cityplatform_receiver import ReceiverConfig, RunningReceiver, start_in_thread
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.samples import policy, sample
from tests.support import approve_existing as approve
from tests.support import ops, publish, settled, wait_for

SECRET_ENV = "PUBLISHER_TEST_CITYPLATFORM_SECRET"
FAST = {
    "retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "jitter": 0.0, "max_attempts": 5},
    "confirm_interval_seconds": 0.1,
}


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningReceiver]:
    secret = signing.generate_secret()
    monkeypatch.setenv(SECRET_ENV, secret)
    receiver = start_in_thread(ReceiverConfig(secrets=[signing.parse_secret(secret)], delay=0.2))
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], team: Team, platform: RunningReceiver) -> Runtime:
    section: dict[str, Any] = {
        "enabled": True,
        **FAST,
        "targets": [
            {
                "name": "disclosure",
                "url": platform.records_url,
                "secret_env": SECRET_ENV,
                "types": ["policy", "procurement_result"],
            },
        ],
    }
    return make_runtime({"cityplatform": section})


def held(platform: RunningReceiver) -> dict[str, dict[str, Any]]:
    return {rec["index_number"]: rec for rec in platform.state()["records"]}


def procurement() -> dict[str, Any]:
    data = sample("proc-2019-001")
    for key in ("ref", "sample"):
        data.pop(key, None)
    data["issue_date"] = "2026-11-20"
    return data


def test_publish_abolish_withdraw_of_a_policy_and_a_procurement_result(
    runtime: Runtime, team: Team, platform: RunningReceiver
) -> None:
    rt, svc = runtime, runtime.service
    uids = [publish(rt, team, policy()), publish(rt, team, procurement())]
    for uid in uids:
        wait_for(partial(settled, rt, uid, 1))
        assert ops(rt, uid) == [("publish", "delivered")]
        assert svc.item_detail(uid)["delivery_status"] == "published"
        [d] = svc.deliveries(uid)
        # it went through `accepted` and the receipt poll: one push, then confirmed
        assert [a["outcome"] for a in svc.attempts(d["id"])] == ["accepted"]
    index = {uid: svc.item_detail(uid)["index_number"] for uid in uids}
    store = held(platform)
    assert sorted(store) == sorted(index.values())  # one record per item
    pol, proc = store[index[uids[0]]], store[index[uids[1]]]
    assert pol["status"] == "active" and pol["version"] == 1 and pol["record"]["source_id"] == uids[0]
    assert pol["record"]["title"] == policy()["title"] and pol["record"]["validity"] == "有效"
    assert proc["record"]["procurement"]["amount_yuan"] == "1280000.00"
    assert proc["record"]["procurement"]["supplier"] == "示例供应商有限公司"

    # abolish: every channel gets an update carrying the new validity
    for uid in uids:
        svc.abolish(team.approver, uid, on=date(2026, 12, 1))
    for uid in uids:
        wait_for(partial(settled, rt, uid, 2))
        assert ops(rt, uid) == [("publish", "delivered"), ("update", "delivered")]
    store = held(platform)
    assert sorted(store) == sorted(index.values())
    for uid in uids:
        rec = store[index[uid]]
        assert rec["status"] == "active" and rec["version"] == 2
        assert rec["record"]["validity"] == "已废止" and rec["record"]["validity_changed_on"] == "2026-12-01"

    # withdraw: the platform revokes the record, keeping the last content
    svc.withdraw(team.approver, uids[0], "误发，撤回 / published in error")
    svc.withdraw(team.approver, uids[1], "项目终止")
    for uid in uids:
        wait_for(partial(settled, rt, uid, 3))
        assert ops(rt, uid) == [("publish", "delivered"), ("update", "delivered"), ("withdraw", "delivered")]
    store = held(platform)
    assert sorted(store) == sorted(index.values())
    assert store[index[uids[0]]]["status"] == "revoked"
    assert store[index[uids[0]]]["revoke_reason"] == "误发，撤回 / published in error"
    assert (
        store[index[uids[1]]]["status"] == "revoked" and store[index[uids[1]]]["revoke_reason"] == "项目终止"
    )
    assert store[index[uids[0]]]["record"]["validity"] == "已废止"
    receipts = platform.state()["receipts"]
    assert len(receipts) == 6 and all(r["status"] == "accepted" for r in receipts)
    for uid in uids:
        assert svc.item_detail(uid)["delivery_status"] == "withdrawn"
        assert {d["external_id"] for d in svc.deliveries(uid)} == {index[uid]}


def test_a_rejected_receipt_fails_the_delivery_and_the_fixed_update_is_delivered(
    runtime: Runtime, team: Team, platform: RunningReceiver
) -> None:
    rt, svc = runtime, runtime.service
    reason = "内容概述不符合平台要求 / description not acceptable"
    platform.fault(reject=True, reject_reason=reason)
    uid = publish(rt, team, policy())
    wait_for(lambda: settled(rt, uid, 1))
    [d] = svc.deliveries(uid)
    assert d["state"] == "failed"
    assert d["last_error"] == f"disclosure 退回 / rejected: {reason}"
    assert held(platform) == {}  # nothing stored from a rejected message
    assert [a["outcome"] for a in svc.attempts(d["id"])] == ["accepted"]  # the push itself was taken

    # ops fix the platform's complaint, the editor edits and re-approves: an update goes out
    platform.admin("DELETE", "faults")
    svc.update_item(team.editor, uid, {"description": "规范财政资金管理（修订）。"})
    approve(rt, team, uid)
    wait_for(lambda: settled(rt, uid, 2))
    assert ops(rt, uid) == [("publish", "failed"), ("update", "delivered")]
    assert svc.item_detail(uid)["delivery_status"] == "published"
    store = held(platform)
    [rec] = store.values()
    assert rec["index_number"] == svc.item_detail(uid)["index_number"]
    assert rec["status"] == "active" and rec["version"] == 2
    assert rec["record"]["description"] == "规范财政资金管理（修订）。"
