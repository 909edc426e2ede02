"""The ledger receives the classified channel error itself and decides from its class."""

from __future__ import annotations

import pytest

from channels.base import (
    ChannelConfigError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from publisher.delivery.ledger import FAILURE_OUTCOMES, AdapterError, failure_kind
from publisher.domain.item import Outcome


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TransientError("timeout"), Outcome.TRANSIENT),
        (ChannelError("unspecified"), Outcome.TRANSIENT),
        (RateLimitedError("429", retry_after=30), Outcome.RATE_LIMITED),
        (PermanentError("rejected"), Outcome.PERMANENT),
        (ChannelConfigError("401"), Outcome.CONFIG),
        (AdapterError("KeyError: 'x'"), Outcome.ERROR),
    ],
)
def test_each_error_class_has_its_kind(error: ChannelError, kind: Outcome) -> None:
    assert failure_kind(error) is kind


def test_what_counts_against_the_breaker() -> None:
    # a permanent rejection is about the content, not the channel's health
    assert Outcome.PERMANENT not in FAILURE_OUTCOMES
    assert {Outcome.TRANSIENT, Outcome.RATE_LIMITED, Outcome.ERROR} <= set(FAILURE_OUTCOMES)
