"""The cityplatform adapter against two real reference receivers over HTTP: the disclosure
platform (every type) and the trading platform (procurement results only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from channels import signing
from channels.base import (
    ChannelConfigError,
    ChannelContext,
    Confirmation,
    Operation,
    PermanentError,
    RateLimitedError,
    Receipt,
)
from channels.cityplatform import CityPlatformChannel, CityPlatformSettings
from channels.standins.cityplatform_receiver import ReceiverConfig, RunningReceiver, start_in_thread
from publisher.domain.item import ItemType, VersionView
from publisher.settings import resolve_secret
from tests.factories import make_version
from tests.support import wait_for

DISCLOSED = ["policy", "interpretation", "fee_change", "procurement_result", "consultation", "notice"]
CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000",
    data_dir=Path("/nonexistent"),
    agency_name="上海市财政局",
    resolve_secret=resolve_secret,
)


@dataclass
class Platforms:
    disclosure: RunningReceiver
    trading: RunningReceiver
    channel: CityPlatformChannel


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    d_secret, t_secret = signing.generate_secret(), signing.generate_secret()
    disclosure = start_in_thread(ReceiverConfig(secrets=[signing.parse_secret(d_secret)], delay=0.05))
    trading = start_in_thread(
        ReceiverConfig(
            secrets=[signing.parse_secret(t_secret)],
            delay=0.05,
            accept_types=frozenset({"procurement_result"}),
        )
    )
    settings = CityPlatformSettings.model_validate(
        {
            "enabled": True,
            "targets": [
                {"name": "disclosure", "url": disclosure.records_url, "secret": d_secret, "types": DISCLOSED},
                {
                    "name": "trading",
                    "url": trading.records_url,
                    "secret": t_secret,
                    "types": ["procurement_result"],
                },
            ],
        }
    )
    channel = CityPlatformChannel(settings, CONTEXT)
    try:
        yield Platforms(disclosure, trading, channel)
    finally:
        channel.close()
        disclosure.stop()
        trading.stop()


def confirmed(channel: CityPlatformChannel, receipt: Receipt) -> Confirmation:
    return wait_for(lambda: channel.confirm(receipt), 10, "the receipt processed")


def deliver(p: Platforms, version: VersionView, op: Operation, key: str) -> Confirmation:
    receipt = p.channel.send(p.channel.render(version, op), key=key)
    assert receipt.accepted
    return confirmed(p.channel, receipt)


def held(r: RunningReceiver) -> dict[str, dict[str, Any]]:
    return {rec["index_number"]: rec for rec in r.state()["records"]}


PROCUREMENT = {
    "project_number": "SH-2019-EXAMPLE-001",
    "project_name": "某信息化运维服务项目",
    "purchaser": "示例采购单位",
    "supplier": "示例供应商有限公司",
    "amount_yuan": "1280000.00",
    "award_date": "2019-05-18",
    "method": "公开招标",
}


def test_publish_update_revoke_of_a_policy_and_a_procurement_result(platforms: Platforms) -> None:
    p, ch = platforms, platforms.channel
    policy1 = make_version()
    policy2 = make_version(version=2, validity="已废止", validity_changed_on=date(2020, 1, 1))
    policy3 = make_version(
        version=3,
        validity="已废止",
        validity_changed_on=date(2020, 1, 1),
        withdrawn=True,
        withdraw_reason="误发，撤回 / published in error",
    )
    proc1 = make_version(
        uid="01jprocurement0000000test",
        type=ItemType.PROCUREMENT_RESULT,
        title="某信息化运维服务项目中标结果公告",
        index_number="AB1900010-2019-150",
        doc_number=None,
        subject="财政\\政府采购",
        description="公布采购项目的中标供应商和中标金额。",
        structured={"procurement": dict(PROCUREMENT)},
    )
    proc2 = make_version(
        **{
            **proc1.__dict__,
            "version": 2,
            "structured": {"procurement": {**PROCUREMENT, "amount_yuan": "1250000.00"}},
        }
    )
    proc3 = make_version(**{**proc2.__dict__, "version": 3, "withdrawn": True, "withdraw_reason": "项目终止"})

    # publish
    assert deliver(p, policy1, Operation.PUBLISH, "d-policy-1").delivered is True
    result = deliver(p, proc1, Operation.PUBLISH, "d-proc-1")
    assert result.delivered is True and set(result.data) == {"disclosure", "trading"}
    assert (
        held(p.disclosure)["AB1900010-2019-146"]["record"]
        == ch.render(policy1, Operation.PUBLISH).body["record"]
    )
    assert (
        held(p.trading)["AB1900010-2019-150"]["record"] == ch.render(proc1, Operation.PUBLISH).body["record"]
    )
    assert "AB1900010-2019-146" not in held(p.trading)  # routing: the trading platform never saw the policy

    # update (abolished / corrected amount)
    assert deliver(p, policy2, Operation.UPDATE, "d-policy-2").delivered is True
    assert deliver(p, proc2, Operation.UPDATE, "d-proc-2").delivered is True
    d, t = held(p.disclosure), held(p.trading)
    assert d["AB1900010-2019-146"]["record"] == ch.render(policy2, Operation.UPDATE).body["record"]
    assert d["AB1900010-2019-146"]["record"]["validity"] == "已废止"
    for store in (d, t):
        assert store["AB1900010-2019-150"]["record"]["procurement"]["amount_yuan"] == "1250000.00"
        assert store["AB1900010-2019-150"]["version"] == 2

    # revoke
    assert deliver(p, policy3, Operation.WITHDRAW, "d-policy-3").delivered is True
    assert deliver(p, proc3, Operation.WITHDRAW, "d-proc-3").delivered is True
    d, t = held(p.disclosure), held(p.trading)
    assert sorted(d) == ["AB1900010-2019-146", "AB1900010-2019-150"] and sorted(t) == ["AB1900010-2019-150"]
    assert d["AB1900010-2019-146"]["status"] == "revoked"
    assert d["AB1900010-2019-146"]["revoke_reason"] == "误发，撤回 / published in error"
    assert d["AB1900010-2019-146"]["record"] == ch.render(policy2, Operation.UPDATE).body["record"]
    assert (
        t["AB1900010-2019-150"]["status"] == "revoked"
        and t["AB1900010-2019-150"]["revoke_reason"] == "项目终止"
    )
    assert len(p.disclosure.state()["receipts"]) == 6 and len(p.trading.state()["receipts"]) == 3


def test_a_resent_delivery_gets_the_original_receipts(platforms: Platforms) -> None:
    p = platforms
    proc = make_version(
        uid="01jprocurement0000000test",
        type=ItemType.PROCUREMENT_RESULT,
        index_number="AB1900010-2019-150",
        structured={"procurement": dict(PROCUREMENT)},
    )
    payload = p.channel.render(proc, Operation.PUBLISH)
    first = p.channel.send(payload, key="d-same")
    again = p.channel.send(payload, key="d-same")
    assert again.data == first.data and again.http_status == 409
    assert len(p.disclosure.state()["receipts"]) == 1 and len(p.trading.state()["receipts"]) == 1


def test_a_rejected_receipt_fails_with_reasons_and_the_fixed_update_is_accepted(platforms: Platforms) -> None:
    p = platforms
    p.disclosure.fault(reject=True, reject_reason="内容概述不符合平台要求 / description not acceptable")
    v1 = make_version()
    result = deliver(p, v1, Operation.PUBLISH, "d-1")
    assert result.delivered is False
    assert result.error == "disclosure 退回 / rejected: 内容概述不符合平台要求 / description not acceptable"
    assert held(p.disclosure) == {}
    # ops fix it (the platform's complaint resolved) and the editor re-approves: an update
    p.disclosure.admin("DELETE", "faults")
    v2 = make_version(version=2, description="根据2019年上海市政务公开工作要点，制定本实施方案（修订）。")
    assert deliver(p, v2, Operation.UPDATE, "d-2").delivered is True
    assert held(p.disclosure)["AB1900010-2019-146"]["record"]["description"].endswith("（修订）。")


def test_a_business_rule_rejection_reaches_confirm(platforms: Platforms) -> None:
    # the index number already belongs to another item on the platform
    assert deliver(platforms, make_version(), Operation.PUBLISH, "d-a").delivered is True
    other = make_version(uid="01jdisclosure00000000other")
    result = deliver(platforms, other, Operation.PUBLISH, "d-b")
    assert result.delivered is False
    assert result.error is not None and "index_number" in result.error and "退回 / rejected" in result.error


def test_revoking_a_record_the_platform_never_held_is_done(platforms: Platforms) -> None:
    # nothing to take down: the platform says unknown_record, which is what a withdrawal wants
    result = deliver(
        platforms, make_version(withdrawn=True, withdraw_reason="撤回"), Operation.WITHDRAW, "d-w"
    )
    assert result.delivered is True


def test_contract_violation_is_permanent_with_the_receivers_reasons(platforms: Platforms) -> None:
    bad = make_version(description="")
    with pytest.raises(PermanentError) as info:
        platforms.channel.send(platforms.channel.render(bad, Operation.PUBLISH), key="d-bad")
    assert info.value.http_status == 422 and info.value.provider_code == "invalid"
    assert "/record/description" in info.value.message
    assert platforms.disclosure.state()["receipts"] == []


def test_a_wrong_secret_is_a_config_error(platforms: Platforms) -> None:
    settings = CityPlatformSettings.model_validate(
        {
            "enabled": True,
            "targets": [
                {
                    "name": "disclosure",
                    "url": platforms.disclosure.records_url,
                    "secret": signing.generate_secret(),
                    "types": ["policy"],
                },
            ],
        }
    )
    wrong = CityPlatformChannel(settings, CONTEXT)
    try:
        with pytest.raises(ChannelConfigError) as info:
            wrong.send(wrong.render(make_version(), Operation.PUBLISH), key="d-cfg")
        assert info.value.http_status == 401 and info.value.provider_code == "signature_invalid"
    finally:
        wrong.close()


def test_platform_unavailable_is_transient_and_honours_retry_after(platforms: Platforms) -> None:
    platforms.disclosure.fault(unavailable_for=5, retry_after=9)
    with pytest.raises(RateLimitedError) as info:
        platforms.channel.send(platforms.channel.render(make_version(), Operation.PUBLISH), key="d-503")
    assert info.value.http_status == 503 and info.value.retry_after == 9.0
