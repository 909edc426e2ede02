"""RetryPolicy.delay: exponential growth from the base, the cap, jitter within its bounds and
centred on the unjittered delay; channel_policy reads a channel's section."""

from __future__ import annotations

import random

import pytest

from publisher.delivery.policy import BreakerPolicy, RetryPolicy, channel_policy


def test_without_jitter_each_failure_doubles_the_wait_from_the_base() -> None:
    p = RetryPolicy(base_seconds=2.0, cap_seconds=10_000.0, jitter=0.0)
    assert [p.delay(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]


def test_the_first_retry_waits_the_base_and_attempt_zero_or_below_too() -> None:
    p = RetryPolicy(base_seconds=3.0, jitter=0.0)
    assert p.delay(1) == 3.0 and p.delay(0) == 3.0 and p.delay(-5) == 3.0


def test_the_cap_bounds_the_wait_and_is_reached_exactly() -> None:
    p = RetryPolicy(base_seconds=2.0, cap_seconds=900.0, jitter=0.0)
    assert p.delay(9) == 512.0 and p.delay(10) == 900.0 and p.delay(60) == 900.0


def test_jitter_stays_within_its_bounds_and_spreads_both_ways() -> None:
    p = RetryPolicy(base_seconds=2.0, cap_seconds=900.0, jitter=0.25)
    rng = random.Random(7)
    for attempt, raw in ((1, 2.0), (4, 16.0), (30, 900.0)):
        waits = [p.delay(attempt, rng) for _ in range(2000)]
        assert min(waits) >= raw * 0.75 and max(waits) <= raw * 1.25
        # spread over the whole band, both sides of the raw delay, centred on it
        assert min(waits) < raw * 0.8 and max(waits) > raw * 1.2
        assert sum(waits) / len(waits) == pytest.approx(raw, rel=0.02)


def test_jitter_uses_the_given_generator_reproducibly() -> None:
    p = RetryPolicy()
    assert [p.delay(3, random.Random(1)) for _ in range(3)] == [p.delay(3, random.Random(1))] * 3


def test_jitter_adds_the_drawn_offset_to_the_raw_delay() -> None:
    # the draw is uniform in ±(raw × jitter); with the same generator state it lands exactly
    p = RetryPolicy(base_seconds=2.0, jitter=0.25)
    offset = random.Random(5).uniform(-4.0, 4.0)
    assert p.delay(4, random.Random(5)) == 16.0 + offset


def test_full_jitter_reaches_down_to_zero_but_never_below() -> None:
    p = RetryPolicy(base_seconds=1.0, jitter=1.0)
    rng = random.Random(3)
    waits = [p.delay(2, rng) for _ in range(1000)]
    assert min(waits) >= 0.0 and min(waits) < 0.1


def test_channel_policy_reads_every_key_of_the_section() -> None:
    p = channel_policy(
        {
            "retry": {"max_attempts": 3, "base_seconds": 0.5, "cap_seconds": 60, "jitter": 0.1, "unknown": 1},
            "breaker": {"failures": 2, "cooldown_seconds": 5},
            "lease_seconds": 30,
            "confirm_interval_seconds": 4,
            "confirm_timeout_seconds": 600,
        },
        default_lease=120.0,
    )
    assert p.retry == RetryPolicy(max_attempts=3, base_seconds=0.5, cap_seconds=60.0, jitter=0.1)
    assert p.breaker == BreakerPolicy(failures=2, cooldown_seconds=5.0)
    assert (p.lease_seconds, p.confirm_interval_seconds, p.confirm_timeout_seconds) == (30.0, 4.0, 600.0)


def test_channel_policy_defaults() -> None:
    p = channel_policy({}, default_lease=60.0)
    assert p.retry == RetryPolicy() and p.breaker == BreakerPolicy()
    assert (p.lease_seconds, p.confirm_interval_seconds, p.confirm_timeout_seconds) == (60.0, 10.0, 21600.0)
    assert channel_policy({}).lease_seconds == 120.0
