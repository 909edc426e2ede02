"""The adapter contract is narrow: `render`, `send` and `check`; what else a channel can do it
declares by implementing a capability protocol, which the core tests with isinstance."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels import registry
from channels.base import (
    Batching,
    Channel,
    ChannelContext,
    Confirming,
    Digesting,
    Listing,
    TakingCallbacks,
)

CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000", data_dir=Path("/nonexistent"), agency_name="局"
)
METHOD_PROTOCOLS = {
    "confirming": Confirming,
    "listing": Listing,
    "callbacks": TakingCallbacks,
    "digest": Digesting,
}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rss", {"listing"}),
        ("cms", {"listing"}),
        ("cityplatform", {"confirming", "listing"}),
        ("wechat", {"confirming", "listing", "callbacks", "digest"}),
        ("webhook", set()),
    ],
)
def test_each_adapter_declares_what_it_can_do(kind: str, expected: set[str]) -> None:
    cls = registry.channel_class(kind)
    assert {name for name, proto in METHOD_PROTOCOLS.items() if issubclass(cls, proto)} == expected
    # an asynchronous channel is exactly one that can be asked for a confirmation
    assert cls.asynchronous == issubclass(cls, Confirming)


def test_the_base_declares_no_optional_capability() -> None:
    for name in (
        "confirm",
        "inventory",
        "handle_callback",
        "digest",
        "digest_status",
        "send_many",
        "batch_size",
    ):
        assert not hasattr(Channel, name), name


def test_only_the_cms_sends_in_batches() -> None:
    cms = registry.create("cms", {"enabled": True, "base_url": "http://wp.test", "user": "ed"}, CONTEXT)
    rss = registry.create("rss", {"enabled": True}, CONTEXT)
    assert isinstance(cms, Batching) and cms.batch_size >= 1
    assert not isinstance(rss, Batching)
