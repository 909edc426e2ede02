"""The embedded executor: worker threads inside `publisher serve`, one small pool per
channel (a slow channel never starves another), woken after commit, with the sweeper and
confirmation polling in-process. Needs nothing but the store."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Mapping

from channels.base import Batching
from publisher.delivery.engine import Engine
from publisher.delivery.periodic import run_periodic

log = logging.getLogger(__name__)

_STOP = -1


class EmbeddedExecutor:
    def __init__(
        self, engine: Engine, *, threads_per_channel: int | None = None, sweep_interval: float | None = None
    ) -> None:
        self.engine = engine
        self.threads_per_channel = threads_per_channel or engine.settings.executor.threads
        self.sweep_interval = sweep_interval or engine.settings.executor.sweep_interval_seconds
        self._queues: dict[str, queue.Queue[int]] = defaultdict(queue.Queue)
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._sweep_now = threading.Event()
        self.last_sweep: float = 0.0
        self.sweeps = 0  # rounds completed: lets a caller wait for "the sweeper has looked again"
        self.periodic_runs = 0  # the periodic jobs' rounds completed (run_periodic), likewise
        # first run soon after start-up, not in the middle of it
        self._next_periodic = time.monotonic() + min(
            5.0, engine.settings.executor.compliance_interval_seconds
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        for kind in self.engine.settings.enabled_channels():
            self._start_channel(kind)
        t = threading.Thread(target=self._sweeper, name="publisher-sweeper", daemon=True)
        t.start()
        self._threads.append(t)
        log.info("embedded executor started: %d threads per channel", self.threads_per_channel)

    def _start_channel(self, kind: str) -> None:
        q = self._queues[kind]
        for n in range(self.threads_per_channel):
            t = threading.Thread(target=self._work, args=(kind, q), name=f"publisher-{kind}-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._sweep_now.set()
        for q in list(self._queues.values()):
            for _ in range(self.threads_per_channel):
                q.put(_STOP)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    # -- dispatch --------------------------------------------------------------------------
    def wake(self, delivery_ids: list[int], channels: Mapping[int, str] | None = None) -> None:
        with self._lock:
            fresh = [i for i in delivery_ids if i not in self._queued]
            self._queued.update(fresh)
        if not fresh:
            return
        enabled = set(self.engine.settings.enabled_channels())
        known = {i: channels[i] for i in fresh if i in channels} if channels else {}
        if len(known) < len(fresh):
            known.update(self.engine.channel_of([i for i in fresh if i not in known]))
        for delivery_id, channel in known.items():
            if channel not in enabled:
                log.warning("delivery %s is for channel %s, which is not enabled here", delivery_id, channel)
                with self._lock:
                    self._queued.discard(delivery_id)
                continue
            self._queues[channel].put(delivery_id)  # before start() too: its threads take it up

    def sweep_soon(self) -> None:
        self._sweep_now.set()

    def _batch_size(self, kind: str) -> int:
        try:
            adapter = self.engine.channels.get(kind)
            return max(1, adapter.batch_size) if isinstance(adapter, Batching) else 1
        except Exception:  # not configured: process() records why, one by one
            return 1

    def _work(self, kind: str, q: queue.Queue[int]) -> None:
        size = self._batch_size(kind)
        while True:
            ids = [q.get()]
            # A channel with a batch API takes what is already waiting, up to its batch
            # size, in one go; it never waits for more to arrive.
            while len(ids) < size and ids[-1] != _STOP:
                try:
                    ids.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in ids
            ids = [i for i in ids if i != _STOP]
            with self._lock:
                self._queued.difference_update(ids)
            try:
                if len(ids) == 1:
                    self.engine.process(ids[0])
                elif ids:
                    self.engine.process_batch(ids)
            except Exception:  # keep the thread alive; the lease and sweeper recover the row
                log.exception("deliveries %s on %s crashed the worker step", ids, kind)
            if stop:
                return

    def _sweeper(self) -> None:
        while not self._stopping.is_set():
            try:
                due, confirm = self.engine.sweep()
                self.last_sweep = time.time()
                self.sweeps += 1
                if due:
                    self.wake(due)
                for delivery_id in confirm:
                    if self._stopping.is_set():
                        break
                    self.engine.confirm(delivery_id)
                if time.monotonic() >= self._next_periodic:
                    self._next_periodic = (
                        time.monotonic() + self.engine.settings.executor.compliance_interval_seconds
                    )
                    run_periodic(self.engine.db, self.engine.settings, self.engine.channels)
                    self.periodic_runs += 1
            except Exception:  # the store may be briefly unavailable: try again next round
                log.exception("sweep failed")
            self._sweep_now.wait(self.sweep_interval)
            self._sweep_now.clear()
