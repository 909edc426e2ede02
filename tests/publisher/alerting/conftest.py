"""The alert modules' shared pieces: the channel's subscriber (refusing every delivery for
good) and the one ops runtime over it and `alerts_rx` (tests/conftest.py), where alerts go."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from publisher.runtime import Runtime
from tests.receiver import Receiver

from .support import Ops, ops_runtime


@pytest.fixture
def subscriber() -> Iterator[Receiver]:
    """The channel's subscriber: refuses every delivery with 400 (a permanent failure)."""
    r = Receiver(default=400).start()
    yield r
    r.stop()


@pytest.fixture
def o(make_runtime: Callable[..., Runtime], subscriber: Receiver, alerts_rx: Receiver) -> Ops:
    return ops_runtime(make_runtime, subscriber, alerts_rx)
