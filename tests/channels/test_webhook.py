"""channels/webhook.py over real HTTP (tests/receiver.py verifies signatures): every live
secret signs during a rotation, the delivery key is the stable webhook-id, the status mapping
(delivered, permanent, config, slow down, transient), the payload per operation, and a bad or
missing secret refused at configuration."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels import signing
from channels.base import (
    ChannelConfigError,
    ChannelContext,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from channels.webhook import WebhookChannel, WebhookSettings
from publisher.domain.item import ItemType, Operation
from tests.factories import make_version
from tests.receiver import SECRET, Receiver
from tests.security.origin import bounded, unanswered_port

OLD = SECRET
NEW = "whsec_" + base64.b64encode(b"the-next-secret-after-rotation!!").decode()


def channel(url: str, secret: str = SECRET, tmp: Path = Path("/tmp"), **extra: Any) -> WebhookChannel:
    context = ChannelContext(public_base_url="http://127.0.0.1:8000", data_dir=tmp, agency_name="测试局")
    return WebhookChannel(WebhookSettings.model_validate({"url": url, "secret": secret, **extra}), context)


def payload(ch: WebhookChannel, op: Operation = Operation.PUBLISH, **overrides: Any) -> Any:
    return ch.render(make_version(**overrides), op)


def test_every_live_secret_signs_during_a_rotation(receiver: Receiver) -> None:
    # given a channel signing with the old and the new secret
    ch = channel(receiver.url, f"{OLD} {NEW}")
    try:
        # when it sends, a receiver still on the old secret accepts it
        receiver.secret = OLD
        ch.send(payload(ch), key="delivery_1")
        # and one already on the new secret accepts it too
        receiver.secret = NEW
        ch.send(payload(ch), key="delivery_2")
    finally:
        ch.close()
    assert [(h.webhook_id, h.signature_ok, h.status) for h in receiver.hits] == [
        ("delivery_1", True, 200),
        ("delivery_2", True, 200),
    ]


def test_the_signature_header_carries_one_signature_per_secret() -> None:
    body = b'{"a":1}'
    headers = signing.signed_headers(signing.parse_secrets(f"{OLD} {NEW}"), "msg_1", 1_700_000_000, body)
    sigs = headers["webhook-signature"].split(" ")
    assert len(sigs) == 2 and sigs[0] != sigs[1]
    for secret in (OLD, NEW):
        signing.verify_headers([secret], headers, body, now=1_700_000_000)


def test_the_delivery_key_is_the_webhook_id_on_every_retry(receiver: Receiver) -> None:
    receiver.answer(500)
    ch = channel(receiver.url)
    try:
        with pytest.raises(TransientError):
            ch.send(payload(ch), key="delivery_42")
        receipt = ch.send(payload(ch), key="delivery_42")
    finally:
        ch.close()
    assert receiver.ids() == ["delivery_42", "delivery_42"]
    assert receipt.external_id == "delivery_42" and receipt.http_status == 200


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (400, PermanentError),
        (422, PermanentError),
        (401, ChannelConfigError),  # our signature refused: pause, tell ops
        (403, ChannelConfigError),
        (410, ChannelConfigError),  # the subscriber asks to be switched off
        (500, TransientError),
        (429, RateLimitedError),
        (502, RateLimitedError),
        (503, TransientError),  # a plain 503 is transient; with Retry-After it asks to slow down
        ((503, {"Retry-After": "60"}), RateLimitedError),
        (504, RateLimitedError),
    ],
)
def test_status_mapping(receiver: Receiver, answer: Any, error: type[Exception]) -> None:
    receiver.answer(answer)
    ch = channel(receiver.url)
    try:
        with pytest.raises(error) as raised:
            ch.send(payload(ch), key="delivery_1")
    finally:
        ch.close()
    # exactly that class: a RateLimitedError is a TransientError, and the difference matters
    assert type(raised.value) is error
    assert str(raised.value).startswith("webhook: ")  # ops see which adapter refused


def test_429_retry_after_is_passed_on(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "120"}))
    ch = channel(receiver.url)
    try:
        with pytest.raises(RateLimitedError) as raised:
            ch.send(payload(ch), key="delivery_1")
    finally:
        ch.close()
    assert raised.value.retry_after == 120


def test_a_timeout_is_transient(receiver: Receiver) -> None:
    receiver.answer((200, {}, 1.0))
    ch = channel(receiver.url, timeout_seconds=0.2)
    try:
        with pytest.raises(TransientError):
            ch.send(payload(ch), key="delivery_1")
    finally:
        ch.close()


def test_the_body_per_operation() -> None:
    ch = channel("http://127.0.0.1:9/hook")
    try:
        published = payload(ch).body
        withdrawn = payload(ch, Operation.WITHDRAW, withdraw_reason="内容有误").body
        updated = payload(ch, Operation.UPDATE).body
        policy_data = published["data"]
        procurement = payload(ch, type=ItemType.PROCUREMENT_RESULT, structured={"winner": "某公司"}).body
    finally:
        ch.close()
    assert [published["type"], updated["type"], withdrawn["type"]] == [
        "item.published",
        "item.updated",
        "item.withdrawn",
    ]
    assert policy_data["title"] == "上海市财政局2019年政务公开实施方案"
    assert policy_data["doc_number"] == "沪财预〔2019〕12号" and policy_data["issue_date"] == "2019-04-04"
    assert "withdraw_reason" not in policy_data and "structured" not in policy_data
    assert withdrawn["data"]["withdraw_reason"] == "内容有误"
    assert procurement["data"]["structured"] == {"winner": "某公司"}
    assert published["timestamp"] == "2019-04-04T02:00:00+00:00"


def test_a_bad_or_missing_secret_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ChannelConfigError, match="invalid webhook secret"):
        channel("http://127.0.0.1:9/hook", "whsec_tooshort")
    context = ChannelContext(public_base_url="http://127.0.0.1:8000", data_dir=tmp_path, agency_name="测试局")
    with pytest.raises(ChannelConfigError) as info:
        WebhookChannel.from_config({"url": "http://127.0.0.1:9/hook"}, context)
    assert (
        info.value.message
        == "webhook 未配置密钥 / webhook subscriber has no secret (secret_env or secret_file)"
    )


def test_the_request_is_compact_utf8_json_signed_now(receiver: Receiver) -> None:
    ch = channel(receiver.url)
    try:
        before = time.time()
        receipt = ch.send(payload(ch), key="delivery_7")
        after = time.time()
    finally:
        ch.close()
    [hit] = receiver.hits
    assert hit.headers["content-type"] == "application/json"
    assert hit.raw == json.dumps(hit.body, ensure_ascii=False, separators=(",", ":")).encode()
    assert "上海市财政局".encode() in hit.raw  # not \u-escaped
    assert int(before) <= int(hit.headers["webhook-timestamp"]) <= int(after)
    assert hit.headers["webhook-signature"].count("v1,") == 1
    assert (receipt.external_id, receipt.url, receipt.http_status) == ("delivery_7", None, 200)
    assert receipt.response_excerpt == '{"ok":true}'


def test_a_policy_is_rendered_field_for_field() -> None:
    ch = channel("http://127.0.0.1:9/hook")
    try:
        p = payload(ch)
    finally:
        ch.close()
    assert (p.kind, p.operation, p.uid, p.version) == (
        "webhook",
        Operation.PUBLISH,
        "01jdisclosure000000000test",
        1,
    )
    assert p.body == {
        "type": "item.published",
        "timestamp": "2019-04-04T02:00:00+00:00",
        "data": {
            "uid": "01jdisclosure000000000test",
            "version": 1,
            "content_hash": "0" * 64,
            "type": "policy",
            "type_label": make_version().type_label,
            "title": "上海市财政局2019年政务公开实施方案",
            "index_number": "AB1900010-2019-146",
            "doc_number": "沪财预〔2019〕12号",
            "issuing_body": "上海市财政局",
            "issue_date": "2019-04-04",
            "subject": "综合政务\\政务公开",
            "validity": make_version().validity,
            "validity_changed_on": None,
            "abolished_by": None,
            "description": "根据2019年上海市政务公开工作要点等要求，制定本实施方案。",
            "keywords": ["政务公开", "实施方案"],
            "url": "http://127.0.0.1:8000/items/01jdisclosure000000000test",
            "public_url": "http://127.0.0.1:8000/items/01jdisclosure000000000test",
            "published_at": "2019-04-04T02:00:00+00:00",
            "interprets": None,
        },
    }


def test_the_cms_url_wins_and_an_unpublished_version_uses_its_creation_time() -> None:
    from datetime import date

    ch = channel("http://127.0.0.1:9/hook")
    try:
        body = payload(
            ch,
            published_at=None,
            channel_urls={"cms": "https://www.example.gov.cn/a/1"},
            validity_changed_on=date(2020, 1, 2),
        ).body
    finally:
        ch.close()
    assert body["timestamp"] == "2019-04-03T02:00:00+00:00" == body["data"]["published_at"]
    assert body["data"]["url"] == "https://www.example.gov.cn/a/1"
    assert body["data"]["validity_changed_on"] == "2020-01-02"


def test_fee_changes_carry_their_structured_data() -> None:
    ch = channel("http://127.0.0.1:9/hook")
    try:
        body = payload(ch, type=ItemType.FEE_CHANGE, structured={"items": [1]}).body
    finally:
        ch.close()
    assert body["data"]["structured"] == {"items": [1]}


def test_from_config_resolves_the_secret_and_drops_the_reference_keys(
    receiver: Receiver, tmp_path: Path
) -> None:
    asked: list[str] = []

    def resolve(section: Any, name: str) -> str | None:
        asked.append(name)
        return SECRET if section.get(f"{name}_env") == "HOOK_SECRET" else None

    context = ChannelContext(
        public_base_url="http://127.0.0.1:8000",
        data_dir=tmp_path,
        agency_name="测试局",
        resolve_secret=resolve,
    )
    ch = WebhookChannel.from_config(
        {"url": receiver.url, "secret_env": "HOOK_SECRET", "timeout_seconds": 3}, context
    )
    try:
        assert isinstance(ch, WebhookChannel) and ch.cfg.timeout_seconds == 3.0 and asked == ["secret"]
        ch.send(payload(ch), key="delivery_1")
    finally:
        ch.close()
    assert receiver.hits[0].signature_ok
    # the context's own secret (a single-instance channel's `secret_env`) is the fallback
    context = ChannelContext(
        public_base_url="http://127.0.0.1:8000",
        data_dir=tmp_path,
        agency_name="测试局",
        secret=lambda name: SECRET if name == "secret" else None,
    )
    fallback = WebhookChannel.from_config({"url": receiver.url}, context)
    fallback.close()
    with pytest.raises(ChannelConfigError, match="no secret"):
        WebhookChannel.from_config(
            {"url": receiver.url, "secret_env": "UNSET"},
            ChannelContext(public_base_url="http://127.0.0.1:8000", data_dir=tmp_path, agency_name="测试局"),
        )


def test_probe_reports_the_endpoints_status(receiver: Receiver) -> None:
    ch = channel(receiver.url)
    try:
        answer = ch.probe()
    finally:
        ch.close()
    # the receiver takes POSTs only: any HTTP answer proves the endpoint is reachable
    assert answer == "端点可达（HTTP 501）/ endpoint reachable (HTTP 501)"


def test_from_config_takes_an_inline_secret_and_a_secret_file(receiver: Receiver, tmp_path: Path) -> None:
    bare = ChannelContext(public_base_url="http://127.0.0.1:8000", data_dir=tmp_path, agency_name="测试局")
    inline = WebhookChannel.from_config({"url": receiver.url, "secret": SECRET}, bare)
    filed = WebhookChannel.from_config(
        {"url": receiver.url, "secret_file": str(tmp_path / "s")},
        ChannelContext(
            public_base_url="http://127.0.0.1:8000",
            data_dir=tmp_path,
            agency_name="测试局",
            resolve_secret=lambda section, name: SECRET if section.get(f"{name}_file") else None,
        ),
    )
    try:
        inline.send(payload(inline), key="delivery_1")
        filed.send(payload(filed), key="delivery_2")
    finally:
        inline.close()
        filed.close()
    assert [h.signature_ok for h in receiver.hits] == [True, True]


# -- the client and the base class (written against mutmut's survivors: docs/testing.md) -------


def test_the_connect_timeout_is_the_channels_timeout_under_5_s() -> None:
    with unanswered_port() as port:
        ch = channel(f"http://127.0.0.1:{port}/hook", timeout_seconds=0.3)
        try:
            started = time.monotonic()
            with pytest.raises(TransientError, match="ConnectTimeout"):
                bounded(lambda: ch.send(payload(ch), key="delivery_1"), 3)
            assert time.monotonic() - started < 2
        finally:
            ch.close()


def test_max_connections_bounds_the_requests_in_flight(receiver: Receiver) -> None:
    receiver.answer((200, {}, 0.5), (200, {}, 0.5))
    ch = channel(receiver.url, max_connections=1, timeout_seconds=3)
    try:
        sends = [
            threading.Thread(target=ch.send, args=(payload(ch),), kwargs={"key": f"d{i}"}) for i in (1, 2)
        ]
        for t in sends:
            t.start()
        for t in sends:
            t.join(5)
    finally:
        ch.close()
    first, second = sorted(h.at for h in receiver.hits)
    assert second - first >= 0.4  # the second waited for the one connection


def test_a_transport_replaces_the_network_and_the_channel_keeps_its_settings_and_context(
    tmp_path: Path,
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    context = ChannelContext(public_base_url="http://127.0.0.1:8000", data_dir=tmp_path, agency_name="测试局")
    settings = WebhookSettings.model_validate({"url": "http://hooks.invalid/h", "secret": SECRET})
    ch = WebhookChannel(settings, context, transport=httpx.MockTransport(answer))
    try:
        assert ch.send(payload(ch), key="delivery_1").http_status == 200
        assert ch.probe() == "端点可达（HTTP 200）/ endpoint reachable (HTTP 200)"
        assert (ch.settings, ch.context) == (settings, context)
    finally:
        ch.close()
    assert [(r.method, str(r.url)) for r in seen] == [
        ("POST", "http://hooks.invalid/h"),
        ("HEAD", "http://hooks.invalid/h"),
    ]
    configured = WebhookChannel.from_config({"url": "http://hooks.invalid/h", "secret": SECRET}, context)
    try:
        assert configured.context is context
    finally:
        configured.close()
