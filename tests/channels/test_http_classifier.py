"""The one HTTP status classifier (channels/_http.py) and each adapter's overrides, driven
through the adapters' own send paths with the one test seam (`transport=`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from channels import _http
from channels.base import (
    ChannelConfigError,
    ChannelContext,
    ChannelError,
    Operation,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from channels.cityplatform import PLATFORM
from channels.cms.errors import WORDPRESS
from channels.webhook import SUBSCRIBER, WebhookChannel, WebhookSettings
from channels.wechat.errors import WECHAT_HTTP, classify_http
from tests.factories import make_version

CONTEXT = ChannelContext(public_base_url="https://www.example.gov.cn", data_dir=Path("/tmp"), agency_name="x")
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

Expected = type[ChannelError] | None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (204, None),
        (301, PermanentError),
        (400, PermanentError),
        (401, ChannelConfigError),
        (403, ChannelConfigError),
        (404, PermanentError),
        (408, TransientError),
        (425, TransientError),
        (429, RateLimitedError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
    ],
)
def test_default_table(status: int, expected: Expected) -> None:
    assert _http.DEFAULT.classify(status) is expected


def test_503_with_retry_after_waits_as_told() -> None:
    err = _http.DEFAULT.error(503, "x", headers={"Retry-After": "120"})
    assert isinstance(err, RateLimitedError) and err.retry_after == 120


# (classifier, status, what the default says, what the adapter means)
OVERRIDES: list[tuple[str, _http.Classifier, int, Expected, Expected]] = [
    ("wordpress redirect: base_url is wrong", WORDPRESS, 301, PermanentError, ChannelConfigError),
    ("webhook 410: subscriber switched us off", SUBSCRIBER, 410, PermanentError, ChannelConfigError),
    ("webhook 502: slow down", SUBSCRIBER, 502, TransientError, RateLimitedError),
    ("platform 404: wrong records URL", PLATFORM, 404, PermanentError, ChannelConfigError),
    ("platform 413: record too large", PLATFORM, 413, PermanentError, PermanentError),
    ("content 401: the source's problem", _http.CONTENT, 401, ChannelConfigError, PermanentError),
    ("content 403: the source's problem", _http.CONTENT, 403, ChannelConfigError, PermanentError),
    ("content 429: no stranger schedules us", _http.CONTENT, 429, RateLimitedError, TransientError),
    ("wechat api 401: our credentials", WECHAT_HTTP, 401, ChannelConfigError, ChannelConfigError),
]


@pytest.mark.parametrize(
    ("name", "classifier", "status", "default", "meant"), OVERRIDES, ids=[o[0] for o in OVERRIDES]
)
def test_adapter_overrides(
    name: str, classifier: _http.Classifier, status: int, default: Expected, meant: Expected
) -> None:
    assert _http.DEFAULT.classify(status) is default
    assert classifier.classify(status) is meant


def test_wechat_429_waits_a_minute_without_retry_after() -> None:
    err = classify_http(429, "busy")
    assert isinstance(err, RateLimitedError) and err.retry_after == 60.0 and err.http_status == 429


def webhook(handler: Callable[[httpx.Request], httpx.Response]) -> WebhookChannel:
    cfg = WebhookSettings(enabled=True, url="http://hook.test/in", secret=SecretStr(SECRET))
    return WebhookChannel(cfg, CONTEXT, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, {}, None),
        (410, {}, ChannelConfigError),
        (502, {"Retry-After": "7"}, RateLimitedError),
        (504, {}, RateLimitedError),
        (500, {}, TransientError),
        (401, {}, ChannelConfigError),
        (422, {}, PermanentError),
    ],
)
def test_webhook_send_through_the_classifier(
    status: int, headers: dict[str, str], expected: Expected
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=headers, text="no")

    channel = webhook(answer)
    payload = channel.render(make_version(), Operation.PUBLISH)
    try:
        if expected is None:
            assert channel.send(payload, key="d1").http_status == 200
        else:
            with pytest.raises(expected) as info:
                channel.send(payload, key="d1")
            assert type(info.value) is expected and info.value.http_status == status
            if status == 502:
                assert isinstance(info.value, RateLimitedError) and info.value.retry_after == 7
    finally:
        channel.close()
    assert seen and seen[0].headers["webhook-id"] == "d1"


def test_webhook_transport_failure_is_transient() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    channel = webhook(fail)
    try:
        with pytest.raises(TransientError, match="连接失败"):
            channel.send(channel.render(make_version(), Operation.PUBLISH), key="d1")
    finally:
        channel.close()
