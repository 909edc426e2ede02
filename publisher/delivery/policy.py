"""Per-channel retry and circuit-breaker policy, read from the channel's config section:

[channels.webhook.retry]   max_attempts = 8, base_seconds = 2, cap_seconds = 900, jitter = 0.25
[channels.webhook.breaker] failures = 5, ratio = 0.5, window = 20, cooldown_seconds = 30
[channels.webhook]         lease_seconds = 120, confirm_interval_seconds = 10
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    jitter: float = 0.25

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff after the `attempt`-th failure, capped, with ±jitter so many
        deliveries failing together do not come back together."""
        raw = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        spread = raw * self.jitter
        return float(max(0.0, raw + (rng or random).uniform(-spread, spread)))


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5  # consecutive failures that open the breaker
    ratio: float = 0.5  # or this failure ratio over the last `window` attempts
    window: int = 20
    min_samples: int = 10
    cooldown_seconds: float = 30.0


@dataclass(frozen=True)
class ChannelPolicy:
    retry: RetryPolicy
    breaker: BreakerPolicy
    lease_seconds: float = 120.0
    confirm_interval_seconds: float = 10.0
    # how long an accepted delivery may wait for its provider's confirmation before it fails
    confirm_timeout_seconds: float = 6 * 3600.0


def channel_policy(section: dict[str, Any], default_lease: float = 120.0) -> ChannelPolicy:
    retry = section.get("retry", {})
    breaker = section.get("breaker", {})
    return ChannelPolicy(
        retry=RetryPolicy(**{k: v for k, v in retry.items() if k in RetryPolicy.__dataclass_fields__}),
        breaker=BreakerPolicy(
            **{k: v for k, v in breaker.items() if k in BreakerPolicy.__dataclass_fields__}
        ),
        lease_seconds=float(section.get("lease_seconds", default_lease)),
        confirm_interval_seconds=float(section.get("confirm_interval_seconds", 10.0)),
        confirm_timeout_seconds=float(section.get("confirm_timeout_seconds", 6 * 3600.0)),
    )
