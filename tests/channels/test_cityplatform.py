"""The cityplatform adapter: settings, pure rendering and pre-flight, and the receiver-answer
classification tables (httpx.MockTransport). End to end over real HTTP:
tests/channels/test_cityplatform_e2e.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels import signing
from channels.base import (
    ChannelConfigError,
    ChannelError,
    Operation,
    PermanentError,
    RateLimitedError,
    Receipt,
    TransientError,
)
from channels.cityplatform import CityPlatformChannel, CityPlatformSettings, classify
from channels.standins.cityplatform_receiver import Contract
from publisher.domain.item import ItemType, VersionView
from tests.factories import make_version

from .test_cityplatform_e2e import CONTEXT, DISCLOSED, PROCUREMENT

SECRET = signing.generate_secret()
TRADING_SECRET = signing.generate_secret()
CONTRACT = Contract()

FEE = {
    "catalogue": "行政事业性收费目录",
    "effective_date": "2019-07-01",
    "changes": [
        {
            "action": "取消",
            "item": "示例收费项目甲",
            "department": "示例执收部门",
            "old_standard": "每件10元",
            "new_standard": None,
        }
    ],
}


def settings(**over: Any) -> CityPlatformSettings:
    data: dict[str, Any] = {
        "enabled": True,
        "targets": [
            {
                "name": "disclosure",
                "url": "http://disclosure.test/api/records",
                "secret": SECRET,
                "types": DISCLOSED,
            },
            {
                "name": "trading",
                "url": "http://trading.test/records",
                "secret": TRADING_SECRET,
                "types": ["procurement_result"],
            },
        ],
    }
    data.update(over)
    return CityPlatformSettings.model_validate(data)


def channel(handler: Callable[[httpx.Request], httpx.Response] | None = None) -> CityPlatformChannel:
    transport = httpx.MockTransport(handler) if handler else None
    return CityPlatformChannel(settings(), CONTEXT, transport=transport)


def procurement_version(**over: Any) -> VersionView:
    values: dict[str, Any] = dict(
        uid="01jprocurement0000000test",
        type=ItemType.PROCUREMENT_RESULT,
        title="某信息化运维服务项目中标结果公告",
        index_number="AB1900010-2019-150",
        doc_number=None,
        subject="财政\\政府采购",
        description="公布采购项目的中标供应商和中标金额。",
        structured={"procurement": dict(PROCUREMENT)},
    )
    values.update(over)
    return make_version(**values)


def receipt_body(
    status: str = "processing", reasons: list[dict[str, Any]] | None = None, rid: str = "rcpt_" + "a" * 32
) -> dict[str, Any]:
    return {
        "receipt_id": rid,
        "message_id": "k1",
        "status": status,
        "operation": "create",
        "index_number": "AB1900010-2019-146",
        "version": 1,
        "received_at": "2026-11-27T00:00:00+00:00",
        "decided_at": None,
        "reasons": reasons or [],
    }


# ---------------------------------------------------------------- settings


def test_from_config_resolves_each_targets_secret_from_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHER_CITY_SECRET", SECRET)
    secret_file = tmp_path / "trading.secret"
    secret_file.write_text(TRADING_SECRET + "\n", encoding="utf-8")
    section = {
        "enabled": True,
        "targets": [
            {
                "name": "disclosure",
                "url": "http://d.test/records",
                "secret_env": "PUBLISHER_CITY_SECRET",
                "types": ["policy"],
            },
            {
                "name": "trading",
                "url": "http://t.test/records",
                "secret_file": str(secret_file),
                "types": ["procurement_result"],
            },
        ],
    }
    ch = CityPlatformChannel.from_config(section, CONTEXT)
    assert isinstance(ch, CityPlatformChannel)
    assert [t.secret.get_secret_value() for t in ch.cfg.targets] == [SECRET, TRADING_SECRET]
    assert SECRET not in repr(ch.cfg)


def test_from_config_refuses_an_inline_secret() -> None:
    section = {
        "targets": [{"name": "d", "url": "http://d.test/records", "secret": SECRET, "types": ["policy"]}]
    }
    with pytest.raises(ChannelConfigError, match="secret_env"):
        CityPlatformChannel.from_config(section, CONTEXT)


def test_from_config_without_a_resolvable_secret_fails_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    section = {
        "targets": [
            {"name": "d", "url": "http://d.test/records", "secret_env": "NO_SUCH_VAR", "types": ["policy"]}
        ]
    }
    with pytest.raises(ValueError, match="secret"):
        CityPlatformChannel.from_config(section, CONTEXT)


@pytest.mark.parametrize(
    "target, match",
    [
        ({"secret": "not-a-whsec"}, "whsec_"),
        ({"url": "http://d.test/api"}, "url"),
        ({"types": []}, "types"),
        ({"types": ["press_release"]}, "types"),
        ({"name": "has space"}, "name"),
    ],
)
def test_settings_reject_bad_targets(target: dict[str, Any], match: str) -> None:
    base = {"name": "d", "url": "http://d.test/records", "secret": SECRET, "types": ["policy"]}
    with pytest.raises(ValueError, match=match):
        CityPlatformSettings.model_validate({"targets": [{**base, **target}]})


def test_settings_reject_duplicate_target_names() -> None:
    t = {"name": "d", "url": "http://d.test/records", "secret": SECRET, "types": ["policy"]}
    with pytest.raises(ValueError, match="unique"):
        CityPlatformSettings.model_validate({"targets": [t, t]})


# ---------------------------------------------------------------- render and check


def test_render_publish_is_a_create_with_the_catalogue_fields() -> None:
    v = make_version(attachments=({"title": "附件1", "url": "https://example.gov.cn/a.pdf"},))
    payload = channel().render(v, Operation.PUBLISH)
    assert payload.kind == "cityplatform" and payload.uid == v.uid and payload.version == 1
    assert payload.body["operation"] == "create"
    rec = payload.body["record"]
    assert rec == {
        "index_number": "AB1900010-2019-146",
        "source_id": v.uid,
        "version": 1,
        "item_type": "policy",
        "title": v.title,
        "description": v.description,
        "issue_date": "2019-04-04",
        "published_at": "2019-04-04T02:00:00+00:00",
        "issuing_body": "上海市财政局",
        "doc_number": "沪财预〔2019〕12号",
        "subject": "综合政务\\政务公开",
        "disclosure": "主动公开",
        "scope": "面向社会",
        "validity": "有效",
        "validity_changed_on": None,
        "abolished_by": None,
        "keywords": ["政务公开", "实施方案"],
        "url": v.public_url,
        "attachments": [{"title": "附件1", "url": "https://example.gov.cn/a.pdf"}],
        "interprets": None,
    }
    assert CONTRACT.body_problems("/records", "post", payload.body) == []


def test_render_is_pure_and_repeatable() -> None:
    ch, v = channel(), make_version()
    assert ch.render(v, Operation.UPDATE) == ch.render(v, Operation.UPDATE)


def test_render_update_carries_the_abolition() -> None:
    v = make_version(version=2, validity="已废止", validity_changed_on=date(2020, 1, 1))
    body = channel().render(v, Operation.UPDATE).body
    assert body["operation"] == "update"
    assert (body["record"]["validity"], body["record"]["validity_changed_on"], body["record"]["version"]) == (
        "已废止",
        "2020-01-01",
        2,
    )
    assert CONTRACT.body_problems("/records", "post", body) == []


def test_render_withdraw_is_a_revoke_with_the_reason() -> None:
    v = make_version(version=3, withdrawn=True, withdraw_reason="信息有误")
    body = channel().render(v, Operation.WITHDRAW).body
    assert body == {
        "operation": "revoke",
        "index_number": "AB1900010-2019-146",
        "source_id": v.uid,
        "version": 3,
        "item_type": "policy",
        "reason": "信息有误",
    }
    assert CONTRACT.body_problems("/records", "post", body) == []
    no_reason = channel().render(make_version(withdrawn=True), Operation.WITHDRAW).body
    assert no_reason["reason"] == "已撤回 / withdrawn"


def test_render_type_specific_data_for_procurement_fee_change_and_consultation() -> None:
    ch = channel()
    proc = ch.render(procurement_version(), Operation.PUBLISH).body
    assert proc["record"]["procurement"] == PROCUREMENT
    fee = ch.render(make_version(type=ItemType.FEE_CHANGE, structured=dict(FEE)), Operation.PUBLISH).body
    assert fee["record"]["fee_change"] == FEE
    cons = ch.render(
        make_version(
            type=ItemType.CONSULTATION,
            structured={"consultation": {"opens": date(2026, 1, 1), "closes": date(2026, 1, 31)}},
        ),
        Operation.PUBLISH,
    ).body
    assert cons["record"]["consultation"] == {"opens": "2026-01-01", "closes": "2026-01-31"}
    for body in (proc, fee, cons):
        assert CONTRACT.body_problems("/records", "post", body) == []


def test_check_passes_complete_versions() -> None:
    ch = channel()
    assert ch.check(make_version()) == []
    assert ch.check(procurement_version()) == []
    assert ch.check(make_version(type=ItemType.FEE_CHANGE, structured=dict(FEE))) == []


@pytest.mark.parametrize(
    "over, field",
    [
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "长" * 501}, "description"),
        ({"index_number": ""}, "index_number"),
        ({"index_number": "2019-146"}, "index_number"),
        ({"issuing_body": ""}, "issuing_body"),
        ({"subject": ""}, "subject"),
        ({"disclosure": "不予公开"}, "disclosure"),
        ({"type": ItemType.PROCUREMENT_RESULT}, "procurement"),
        ({"type": ItemType.FEE_CHANGE}, "changes"),
        ({"type": ItemType.CONSULTATION}, "consultation"),
    ],
)
def test_check_reports_what_the_platform_would_reject(over: dict[str, Any], field: str) -> None:
    v = make_version(**over)
    problems = channel().check(v)
    assert [p.field for p in problems] == [field]
    assert problems[0].message
    # the pre-flight and the contract agree: what check() reports, the receiver refuses
    assert CONTRACT.body_problems("/records", "post", channel().render(v, Operation.PUBLISH).body) != []


def test_check_reports_an_item_type_no_target_takes() -> None:
    ch = CityPlatformChannel(
        settings(
            targets=[
                {
                    "name": "trading",
                    "url": "http://t.test/records",
                    "secret": SECRET,
                    "types": ["procurement_result"],
                }
            ]
        ),
        CONTEXT,
    )
    assert [p.field for p in ch.check(make_version())] == ["type"]


# ---------------------------------------------------------------- send: classification table


@pytest.mark.parametrize(
    "status, expected",
    [
        (200, None),
        (201, None),
        (202, None),
        (409, None),
        (400, PermanentError),
        (413, PermanentError),
        (415, PermanentError),
        (422, PermanentError),
        (418, PermanentError),
        (401, ChannelConfigError),
        (403, ChannelConfigError),
        (404, ChannelConfigError),
        (410, ChannelConfigError),
        (408, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (429, RateLimitedError),
    ],
)
def test_status_table(status: int, expected: type[ChannelError] | None) -> None:
    assert classify(status) is expected


def answer(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handler


@pytest.mark.parametrize(
    "status, body, headers, error, code",
    [
        (
            401,
            {"code": "signature_invalid", "message": "签名不匹配 / no signature matches"},
            None,
            ChannelConfigError,
            "signature_invalid",
        ),
        (
            401,
            {"code": "timestamp_out_of_tolerance", "message": "时间戳超出允许范围"},
            None,
            ChannelConfigError,
            "timestamp_out_of_tolerance",
        ),
        (403, {"code": "forbidden", "message": "禁止"}, None, ChannelConfigError, "forbidden"),
        (400, {"code": "bad_request", "message": "报文不是有效的 JSON"}, None, PermanentError, "bad_request"),
        (
            422,
            {
                "code": "invalid",
                "message": "报文不符合规范 / message violates the contract",
                "details": [
                    {
                        "code": "required",
                        "field": "/record/description",
                        "message": "缺少必填字段 description",
                    }
                ],
            },
            None,
            PermanentError,
            "invalid",
        ),
        (
            429,
            {"code": "rate_limited", "message": "请求过多"},
            {"Retry-After": "7"},
            RateLimitedError,
            "rate_limited",
        ),
        (500, {"code": "oops", "message": "内部错误"}, None, TransientError, "oops"),
        (503, {"code": "unavailable", "message": "平台暂不可用"}, None, TransientError, "unavailable"),
        (
            503,
            {"code": "unavailable", "message": "平台暂不可用"},
            {"Retry-After": "12"},
            RateLimitedError,
            "unavailable",
        ),
    ],
)
def test_send_classifies_receiver_answers(
    status: int, body: dict[str, Any], headers: dict[str, str] | None, error: type[ChannelError], code: str
) -> None:
    ch = channel(answer(status, body, headers))
    payload = ch.render(make_version(), Operation.PUBLISH)
    with pytest.raises(error) as info:
        ch.send(payload, key="delivery-1")
    exc = info.value
    assert type(exc) is error
    assert exc.http_status == status and exc.provider_code == code
    assert exc.message.startswith("disclosure ")
    assert body["message"] in exc.message
    assert exc.response_excerpt and code in exc.response_excerpt
    if status == 422:
        assert "/record/description: 缺少必填字段 description" in exc.message
    if isinstance(exc, RateLimitedError):
        assert exc.retry_after == float(headers["Retry-After"])  # type: ignore[index]


def test_send_timeouts_and_connection_errors_are_transient() -> None:
    def timeout(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    def refused(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    for handler in (timeout, refused):
        ch = channel(handler)
        with pytest.raises(TransientError) as info:
            ch.send(ch.render(make_version(), Operation.PUBLISH), key="delivery-1")
        assert type(info.value) is TransientError


def test_send_2xx_without_a_receipt_id_is_permanent() -> None:
    ch = channel(answer(202, {"status": "processing"}))
    with pytest.raises(PermanentError, match="receipt id"):
        ch.send(ch.render(make_version(), Operation.PUBLISH), key="delivery-1")


def test_send_signs_with_the_key_and_routes_by_type() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        rid = "rcpt_" + ("1" if req.url.host == "disclosure.test" else "2") * 32
        return httpx.Response(202, json=receipt_body(rid=rid))

    ch = channel(handler)
    policy = ch.send(ch.render(make_version(), Operation.PUBLISH), key="delivery-7")
    assert [r.url for r in seen] == [httpx.URL("http://disclosure.test/api/records")]
    assert policy.accepted and policy.data == {"disclosure": "rcpt_" + "1" * 32}
    assert policy.external_id == "AB1900010-2019-146" and policy.http_status == 202
    req = seen[0]
    assert req.headers["webhook-id"] == "delivery-7"
    assert req.headers["content-type"] == "application/json"
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 5
    signing.verify_headers([SECRET], req.headers, req.content, now=time.time())
    with pytest.raises(signing.SignatureError):
        signing.verify_headers([TRADING_SECRET], req.headers, req.content, now=time.time())
    assert json.loads(req.content)["record"]["title"] == make_version().title
    assert "上海市财政局".encode() in req.content  # UTF-8 on the wire, not \\u escapes

    seen.clear()
    both = ch.send(ch.render(procurement_version(), Operation.PUBLISH), key="delivery-8")
    assert [r.url.host for r in seen] == ["disclosure.test", "trading.test"]
    assert both.data == {"disclosure": "rcpt_" + "1" * 32, "trading": "rcpt_" + "2" * 32}
    signing.verify_headers([TRADING_SECRET], seen[1].headers, seen[1].content, now=time.time())


def test_send_with_no_target_for_the_type_is_permanent() -> None:
    ch = CityPlatformChannel(
        settings(
            targets=[
                {
                    "name": "trading",
                    "url": "http://t.test/records",
                    "secret": SECRET,
                    "types": ["procurement_result"],
                }
            ]
        ),
        CONTEXT,
        transport=httpx.MockTransport(answer(202, receipt_body())),
    )
    with pytest.raises(PermanentError, match="no target"):
        ch.send(ch.render(make_version(), Operation.PUBLISH), key="k")


def test_duplicate_answer_counts_as_success_with_the_original_receipt() -> None:
    original = receipt_body(status="accepted", rid="rcpt_" + "9" * 32)
    ch = channel(answer(409, {"code": "duplicate", "message": "重复报送", "receipt": original}))
    receipt = ch.send(ch.render(make_version(), Operation.PUBLISH), key="delivery-1")
    assert receipt.accepted and receipt.data == {"disclosure": "rcpt_" + "9" * 32}


def test_partial_failure_then_retry_keeps_both_receipts() -> None:
    calls: list[str] = []
    trading_up = False

    def handler(req: httpx.Request) -> httpx.Response:
        host = req.url.host
        calls.append(host)
        if host == "trading.test" and not trading_up:
            return httpx.Response(503, json={"code": "unavailable", "message": "平台暂不可用"})
        rid = "rcpt_" + ("1" if host == "disclosure.test" else "2") * 32
        if calls.count(host) > 1:  # the receiver has this webhook-id already
            return httpx.Response(
                409, json={"code": "duplicate", "message": "重复", "receipt": receipt_body(rid=rid)}
            )
        return httpx.Response(202, json=receipt_body(rid=rid))

    ch = channel(handler)
    payload = ch.render(procurement_version(), Operation.PUBLISH)
    with pytest.raises(TransientError, match="trading"):
        ch.send(payload, key="delivery-9")
    trading_up = True
    receipt = ch.send(payload, key="delivery-9")
    assert receipt.data == {"disclosure": "rcpt_" + "1" * 32, "trading": "rcpt_" + "2" * 32}
    assert calls == ["disclosure.test", "trading.test", "disclosure.test", "trading.test"]


def test_the_most_serious_target_failure_decides() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.host == "disclosure.test":
            return httpx.Response(503, json={"code": "unavailable", "message": "暂不可用"})
        return httpx.Response(422, json={"code": "invalid", "message": "报文不符合规范"})

    ch = channel(handler)
    with pytest.raises(PermanentError, match="trading"):
        ch.send(ch.render(procurement_version(), Operation.PUBLISH), key="k")


# ---------------------------------------------------------------- confirm table


def receipts_handler(states: dict[str, tuple[int, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        assert req.method == "GET"
        signing.verify_headers(
            [SECRET if req.url.host == "disclosure.test" else TRADING_SECRET],
            req.headers,
            b"",
            now=time.time(),
        )
        status, body = states[req.url.host]
        return httpx.Response(status, json=body)

    return handler


SENT = Receipt(accepted=True, data={"disclosure": "rcpt_" + "1" * 32, "trading": "rcpt_" + "2" * 32})
REJECTED = receipt_body(
    "rejected",
    [
        {
            "code": "unknown_record",
            "field": "/index_number",
            "message": "撤销的信息不存在 / no record with this index number",
        }
    ],
)


@pytest.mark.parametrize(
    "disclosure, trading, delivered",
    [
        ((200, receipt_body("accepted")), (200, receipt_body("accepted")), True),
        ((200, receipt_body("accepted")), (200, receipt_body("processing")), None),
        ((200, receipt_body("processing")), (200, receipt_body("processing")), None),
        ((200, receipt_body("accepted")), (503, {"code": "unavailable", "message": "x"}), None),
        ((200, receipt_body("accepted")), (429, {"code": "rate_limited", "message": "x"}), None),
        ((200, receipt_body("processing")), (200, REJECTED), False),
        ((200, receipt_body("accepted")), (404, {"code": "not_found", "message": "回执不存在"}), False),
    ],
)
def test_confirm_table(disclosure: tuple[int, Any], trading: tuple[int, Any], delivered: bool | None) -> None:
    ch = channel(receipts_handler({"disclosure.test": disclosure, "trading.test": trading}))
    result = ch.confirm(SENT)
    if delivered is None:
        assert result is None
        return
    assert result is not None and result.delivered is delivered
    if delivered:
        assert result.error is None and result.data["trading"]["status"] == "accepted"
    else:
        assert result.error and result.error.startswith("trading")


def test_confirm_rejection_carries_the_platforms_reasons_in_chinese() -> None:
    ch = channel(
        receipts_handler({"disclosure.test": (200, REJECTED), "trading.test": (200, receipt_body())})
    )
    result = ch.confirm(SENT)
    assert result is not None and result.delivered is False
    assert (
        result.error
        == "disclosure 退回 / rejected: /index_number: 撤销的信息不存在 / no record with this index number"
    )


def test_confirm_with_rejected_credentials_raises_config_error() -> None:
    ch = channel(
        receipts_handler(
            {
                "disclosure.test": (401, {"code": "signature_invalid", "message": "签名不匹配"}),
                "trading.test": (200, receipt_body("accepted")),
            }
        )
    )
    with pytest.raises(ChannelConfigError, match="签名不匹配"):
        ch.confirm(SENT)


def test_confirm_of_a_target_no_longer_configured_fails() -> None:
    ch = channel(receipts_handler({"disclosure.test": (200, receipt_body("accepted"))}))
    result = ch.confirm(Receipt(accepted=True, data={"disclosure": "rcpt_" + "1" * 32, "gone": "rcpt_x"}))
    assert result is not None and result.delivered is False and "gone" in (result.error or "")


def test_confirm_reads_the_receipt_beside_the_records_url() -> None:
    urls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        urls.append(str(req.url))
        return httpx.Response(200, json=receipt_body("accepted"))

    channel(handler).confirm(SENT)
    assert urls == [
        "http://disclosure.test/api/receipts/rcpt_" + "1" * 32,
        "http://trading.test/receipts/rcpt_" + "2" * 32,
    ]
