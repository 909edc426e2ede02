"""The errcode table: what each WeChat answer means for the ledger."""

from __future__ import annotations

from datetime import datetime

import pytest

from channels.base import ChannelConfigError, ChannelError, PermanentError, RateLimitedError, TransientError
from channels.wechat.errors import SHANGHAI, classify, classify_http, seconds_until_quota_reset


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (-1, TransientError),
        (40001, TransientError),
        (40014, TransientError),
        (42001, TransientError),
        (45009, RateLimitedError),
        (45028, RateLimitedError),
        (45011, RateLimitedError),
        (40013, ChannelConfigError),
        (40125, ChannelConfigError),
        (41004, ChannelConfigError),
        (40164, ChannelConfigError),
        (48001, ChannelConfigError),
        (40005, PermanentError),
        (40009, PermanentError),
        (40007, PermanentError),
        (45002, PermanentError),
        (45003, PermanentError),
        (45004, PermanentError),
        (53503, PermanentError),
        (53600, PermanentError),
        (99999, PermanentError),  # unknown: WeChat said no, ops decide
    ],
)
def test_errcode_classification(errcode: int, expected: type[ChannelError]) -> None:
    error = classify(errcode, "errmsg rid: x", what="draft/add")
    assert type(error) is expected
    assert error.provider_code == str(errcode)
    assert error.response_excerpt and error.response_excerpt.startswith(str(errcode))
    assert "/" in error.message  # Chinese first, English after


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (408, TransientError),
        (429, RateLimitedError),
        (403, ChannelConfigError),
        (404, PermanentError),
    ],
)
def test_http_status_classification(status: int, expected: type[ChannelError]) -> None:
    error = classify_http(status, "body")
    assert type(error) is expected and error.http_status == status


def test_daily_quota_resets_at_shanghai_midnight() -> None:
    late = datetime(2026, 11, 27, 23, 59, 0, tzinfo=SHANGHAI)
    assert seconds_until_quota_reset(late) == 60
    # 16:30 UTC is 00:30 in Shanghai: the quota has just reset, next reset in 23.5 h
    utc = datetime.fromisoformat("2026-11-27T16:30:00+00:00")
    assert seconds_until_quota_reset(utc) == 23.5 * 3600
    limited = classify(45009, now=late)
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 60
