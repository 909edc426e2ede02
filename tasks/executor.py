"""CeleryExecutor: the runtime's Executor for a deployment with a broker. The web process
(and each worker, for deliveries that become due as a side effect) hands due deliveries to
the channel queues; `celery -A tasks worker` processes run them.

    executor = CeleryExecutor(runtime)     # a publisher.runtime.Runtime: uses runtime.engine
    executor = CeleryExecutor(engine)      # or a publisher.delivery.engine.Engine directly
    use_executor(runtime, executor)        # publisher.runtime: wires service and engine wake-ups

Registered as the `celery` entry point of `publisher.executors`; publisher.runtime's
attach_executor builds it as `cls(runtime)`. The broker comes from settings.broker_url;
batch size and stale-dispatch age from its [celery] section (tasks/config.py).

The ledger is the truth: a delivery is marked dispatched once its message is out (one the
broker refused stays unmarked, so the sweeper hands it over as soon as the broker is back);
a message lost later (broker restart, killed worker) is re-sent by the sweeper once its
dispatch is older than celery.dispatch_stale_seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from celery import Celery

from publisher.delivery.engine import Engine
from publisher.runtime import Runtime
from tasks.config import SET_QUEUE, CeleryOptions, make_app, queue_for

log = logging.getLogger(__name__)


class CeleryExecutor:
    def __init__(
        self, target: Engine | Runtime, *, app: Celery | None = None, options: CeleryOptions | None = None
    ) -> None:
        engine = target.engine if isinstance(target, Runtime) else target
        self.engine = engine
        self.options = options or CeleryOptions.from_settings(engine.settings)
        self.app = app if app is not None else make_app(engine.settings)
        self._own_app = app is None
        engine.dispatch = self.wake

    @classmethod
    def from_runtime(cls, runtime: Runtime, **kwargs: Any) -> CeleryExecutor:
        return cls(runtime.engine, **kwargs)

    def start(self) -> None:
        """Nothing to start: connections are opened on first send."""

    def stop(self) -> None:
        if self._own_app:
            self.app.close()

    def wake(
        self, delivery_ids: list[int], channels: Mapping[int, str] | None = None, *, combine: bool = True
    ) -> None:
        """Hand due deliveries to their channels' queues, in batches. The messages go out
        first and the deliveries are marked dispatched after: a worker starts at once, and
        the mark only spares the sweeper a redundant hand-over (a re-sent message loses the
        claim). `combine=False` (the sweeper's hand-over) never uses the deliver_set queue:
        what a sweep re-sends reaches workers pinned to channel queues with `-Q` too."""
        if not delivery_ids:
            return
        ids = sorted(set(delivery_ids))
        known = {i: channels[i] for i in ids if i in channels} if channels else {}
        if len(known) < len(ids):
            known.update(self.engine.channel_of([i for i in ids if i not in known]))
        by_channel: dict[str, list[int]] = {}
        for delivery_id in ids:
            if delivery_id in known:
                by_channel.setdefault(known[delivery_id], []).append(delivery_id)
        messages = self._messages(by_channel, combine=combine)
        failed: list[int] = []
        sent_ids: list[int] = []
        try:
            with self.app.producer_or_acquire() as producer:
                for sent, (task, args, queue, chunk) in enumerate(messages):
                    try:
                        self.app.send_task(task, args=args, queue=queue, producer=producer)
                        sent_ids += chunk
                    except Exception as exc:
                        # The broker is unreachable: leave this and the rest to the sweeper
                        # rather than wait on every chunk.
                        log.warning("broker refused deliveries for %s: %s", queue, exc)
                        failed = [i for *_, c in messages[sent:] for i in c]
                        break
        except Exception as exc:  # no connection could even be acquired
            log.warning("broker unavailable: %s", exc)
            failed = [i for *_, c in messages for i in c if i not in set(sent_ids)]
        self.engine.mark_dispatched(sent_ids)
        if failed:
            raise ConnectionError(
                f"消息代理不可用 / broker unavailable: {len(failed)} deliveries left to the sweeper"
            )

    def _messages(
        self, by_channel: dict[str, list[int]], *, combine: bool = True
    ) -> list[tuple[str, list[Any], str, list[int]]]:
        """(task, args, queue, ids) per message. A small wake-up spanning several channels
        (an approval's) is one deliver_set message: one claim and one load of the item in the
        worker instead of one per channel. Anything else goes to each channel's own queue in
        batches."""
        size = self.options.batch_size
        total = sum(len(ids) for ids in by_channel.values())
        if combine and len(by_channel) > 1 and total <= size:
            every = [i for ids in by_channel.values() for i in ids]
            return [("publisher.deliver_set", [by_channel], SET_QUEUE, every)]
        return [
            ("publisher.deliver_batch", [channel, ids[n : n + size]], queue_for(channel), ids[n : n + size])
            for channel, ids in by_channel.items()
            for n in range(0, len(ids), size)
        ]

    def confirm(self, delivery_ids: list[int]) -> None:
        """Ask the workers to poll asynchronous channels for these accepted deliveries."""
        if not delivery_ids:
            return
        with self.app.producer_or_acquire() as producer:
            for delivery_id, channel in self.engine.channel_of(delivery_ids).items():
                self.app.send_task(
                    "publisher.confirm", args=[delivery_id], queue=queue_for(channel), producer=producer
                )
