"""Login throttling: failed logins counted per user name and per client address in a sliding
window. Past the limit, logins for that name (or from that address) are refused with the
seconds until the oldest failure leaves the window, whether or not the password is right,
so guessing gains nothing by going on. A burst of failures across all names and addresses
is reported once per window (an alert for ops).

In memory, per process: the pages are answered by one `publisher serve` process, and a
restart forgetting the counts costs an attacker a restart they cannot cause."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Failure:
    """What one failed login started: the name or address newly blocked, a new burst."""

    name_blocked: bool
    address_blocked: bool
    burst: int  # failures in the window when a burst began, else 0


@dataclass
class LoginThrottle:
    per_name: int = 5
    per_address: int = 20
    window: float = 900.0
    burst: int = 50
    clock: Callable[[], float] = time.monotonic
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _burst_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._fails.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._fails[key]
        return times

    def retry_after(self, name: str, address: str) -> int | None:
        """Seconds until a login for `name` from `address` is considered again, or None."""
        now = self.clock()
        waits = []
        with self._lock:
            for key, limit in ((f"n:{name.casefold()}", self.per_name), (f"a:{address}", self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, name: str, address: str) -> Failure:
        now = self.clock()
        blocked = []
        with self._lock:
            for key, limit in ((f"n:{name.casefold()}", self.per_name), (f"a:{address}", self.per_address)):
                times = self._recent(key, now)
                times.append(now)
                self._fails[key] = times
                blocked.append(len(times) == limit)
            self._all.append(now)
            while self._all and self._all[0] <= now - self.window:
                self._all.popleft()
            burst = 0
            if len(self._all) >= self.burst and now >= self._burst_until:
                burst = len(self._all)
                self._burst_until = now + self.window
        return Failure(blocked[0], blocked[1], burst)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._fails.pop(f"n:{name.casefold()}", None)
