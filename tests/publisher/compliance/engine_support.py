"""A runtime that really delivers: the embedded executor and the rss channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from publisher.runtime import Runtime


@pytest.fixture
def live(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime({"rss": {"enabled": True}}, threads=1)


def delivered(rt: Runtime, uid: str) -> bool:
    rows = rt.service.deliveries(uid)
    return bool(rows) and all(d["state"] == "delivered" for d in rows)
