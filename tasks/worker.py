"""What one Celery worker process holds: the runtime, the engine, and one lane per channel.

A lane bounds how many pool slots a channel may hold in this process (PUBLISHER_LANE_SLOTS)
and sends with its own small thread pool, so a channel whose endpoint takes seconds to
answer cannot take every slot and starve the other channels' queues. A deliver_batch
message arriving while the channel's slots are busy adds its ids to the lane and returns
at once; a busy slot keeps draining the lane until it is empty. Ids parked in a lane are
only in memory: if the process dies they are still marked dispatched in the ledger, and the
sweeper re-sends them once that dispatch is stale.

Built lazily on first use, so under the prefork pool each child builds its own after the
fork (database connections and HTTP clients must not cross a fork).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import Celery

from publisher.engine import Engine
from publisher.runtime import Runtime, build_runtime, use_executor
from publisher.settings import Settings

from .config import CeleryOptions
from .executor import CeleryExecutor

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
        with self._lock:
            self._pending.update(dict.fromkeys(delivery_ids))
            if self._active >= self.slots:
                return 0
            self._active += 1
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
            with self._lock:
                self._active -= 1
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

    def lane(self, channel: str) -> Lane:
        with self._lock:
            lane = self._lanes.get(channel)
            if lane is None:
                lane = self._lanes[channel] = Lane(channel, self.engine, self.options)
            return lane

    def close(self) -> None:
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
