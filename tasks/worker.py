"""What one Celery worker process holds: the runtime, the engine, and one lane per channel.

A lane bounds how many pool slots a channel may hold in this process (PUBLISHER_LANE_SLOTS)
and sends with its own small thread pool, so a channel whose endpoint takes seconds to
answer cannot take every slot and starve the other channels' queues. A deliver_batch
message arriving while the channel's slots are busy adds its ids to the lane and returns
at once; a busy slot keeps draining the lane until it is empty. Ids parked in a lane are
only in memory: if the process dies they are still marked dispatched in the ledger, and the
sweeper re-sends them once that dispatch is stale.

A deliver_set message (one wake-up's deliveries on several channels, e.g. an approval's) is
claimed in one transaction for every channel with a free slot, and each channel's share then
runs on a runner thread holding that channel's slot: one message, one claim and one load of
the item instead of one of each per channel, and still one record per channel, so a slow
channel never holds back the others'.

Built lazily on first use, so under the prefork pool each child builds its own after the
fork (database connections and HTTP clients must not cross a fork).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import Celery

from publisher.delivery.engine import Claimed, Engine
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings
from tasks.config import CeleryOptions
from tasks.executor import CeleryExecutor

log = logging.getLogger(__name__)


class Lane:
    def __init__(self, channel: str, engine: Engine, options: CeleryOptions) -> None:
        self.channel = channel
        self.engine = engine
        self.batch_size = options.batch_size
        self.slots = options.lane_slots
        self.pool = ThreadPoolExecutor(options.lane_threads, thread_name_prefix=f"send-{channel}")
        self._lock = threading.Lock()
        self._pending: dict[int, None] = {}  # insertion-ordered set
        self._active = 0

    def run(self, delivery_ids: list[int]) -> int:
        """Deliver these ids (and whatever else arrives meanwhile) unless the channel's
        slots are all busy, in which case a busy slot will. Returns how many this call sent."""
        if not self.reserve_or_park(delivery_ids):
            return 0
        with self._lock:  # holding a slot: the drain below takes them
            self._pending.update(dict.fromkeys(delivery_ids))
        return self._drain()

    def reserve_or_park(self, delivery_ids: list[int]) -> bool:
        """Take one of the channel's slots for the caller, who claims the ids itself and must
        then call `run_claimed` (or `release`) (True); or, all slots being busy, park the ids
        for a busy slot to drain (False)."""
        with self._lock:
            if self._active >= self.slots:
                self._pending.update(dict.fromkeys(delivery_ids))
                return False
            self._active += 1
            return True

    def run_claimed(self, claimed: list[Claimed]) -> int:
        """With a slot `reserve_or_park` gave: send deliveries already claimed together with
        other channels' (WorkerState.deliver_set), then drain whatever was parked meanwhile."""
        try:
            if claimed:
                self.engine.deliver_claimed(claimed, pool=self.pool)
        except BaseException:
            self.release()
            raise
        return len(claimed) + self._drain()

    @property
    def idle(self) -> bool:
        """No slot of this channel is taken and nothing is parked."""
        with self._lock:
            return self._active == 0 and not self._pending

    def release(self) -> None:
        with self._lock:
            self._active -= 1

    def _drain(self) -> int:
        """Holding a slot: claim and send what is parked, a batch at a time, until nothing
        is left; then release the slot."""
        done = 0
        try:
            while True:
                with self._lock:
                    batch = list(self._pending)[: self.batch_size]
                    if not batch:
                        # checked and released under the same lock ids are added under,
                        # so no id is left parked with no slot draining it
                        self._active -= 1
                        return done
                    for i in batch:
                        del self._pending[i]
                self.engine.process_batch(batch, pool=self.pool)
                done += len(batch)
        except BaseException:
            self.release()
            raise

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class WorkerState:
    def __init__(self, settings: Settings, app: Celery, options: CeleryOptions) -> None:
        self.options = options
        self.runtime: Runtime = build_runtime(settings)
        self.engine = self.runtime.engine
        # deliveries that become due while working (dependents, released holds) go back
        # through the broker like any other
        self.executor = CeleryExecutor(self.runtime, app=app, options=options)
        use_executor(self.runtime, self.executor)
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()
        # runs deliver_set's per-channel shares; at most lane_slots per channel at a time
        # (a share runs only with a slot its lane gave), so this never queues for long
        self._runners = ThreadPoolExecutor(64, thread_name_prefix="lane-runner")

    def lane(self, channel: str) -> Lane:
        with self._lock:
            lane = self._lanes.get(channel)
            if lane is None:
                lane = self._lanes[channel] = Lane(channel, self.engine, self.options)
            return lane

    def deliver_set(self, by_channel: dict[str, list[int]]) -> int:
        """One wake-up's deliveries on several channels (an approval's): claimed in one
        transaction with one load of their items, then each channel's share sent and recorded
        on its own lane, so a slow channel never holds the others' records back. A channel
        whose slots are all busy gets its ids parked for a busy slot instead. Returns once the
        sends are under way; the leases (and the sweeper) cover a process that dies now."""
        lanes = {channel: self.lane(channel) for channel in by_channel}
        reserved = [channel for channel, ids in by_channel.items() if lanes[channel].reserve_or_park(ids)]
        if not reserved:
            return 0
        try:
            claimed, _left_out = self.engine.claim_batch([i for c in reserved for i in by_channel[c]])
        except BaseException:
            for channel in reserved:
                lanes[channel].release()
            raise
        shares: dict[str, list[Claimed]] = {channel: [] for channel in reserved}
        for c in claimed:
            shares[c.channel].append(c)
        for channel in reserved:
            self._runners.submit(self._run_share, lanes[channel], shares[channel])
        return len(claimed)

    @staticmethod
    def _run_share(lane: Lane, share: list[Claimed]) -> None:
        try:
            lane.run_claimed(share)
        except Exception:  # the claims' leases expire and the sweeper sends them again
            log.exception("lane %s failed; its claimed deliveries wait for their leases", lane.channel)

    def close(self) -> None:
        self._runners.shutdown(wait=False, cancel_futures=True)
        for lane in self._lanes.values():
            lane.close()
        self.runtime.close()


_state: WorkerState | None = None
_state_lock = threading.Lock()


def current(settings: Settings, app: Celery, options: CeleryOptions) -> WorkerState:
    global _state
    with _state_lock:
        if _state is None:
            _state = WorkerState(settings, app, options)
        return _state


def forget() -> None:
    """After a fork: the child must not use the parent's connections."""
    global _state
    _state = None


def shutdown() -> None:
    global _state
    with _state_lock:
        if _state is not None:
            _state.close()
            _state = None
