"""The Celery app for `celery -A tasks worker` and `celery -A tasks beat`.

Settings come from the usual place (PUBLISHER_CONFIG / config/publisher.toml / PUBLISHER_*),
the broker from PUBLISHER_BROKER_URL or [broker] url; no result backend is used. Queues:
`publisher.control` (sweeps), `publisher.<channel>` for each enabled channel instance and
`publisher.deliveries` (one message for a wake-up spanning several channels); a worker
consumes all of them unless given `-Q`. Beat runs `publisher.sweep` every
[executor] sweep_interval_seconds.

The tasks are thin: they take ids and call the engine. See tasks/config.py for the tunables.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from publisher.delivery.periodic import run_periodic
from publisher.settings import load_settings
from tasks import heartbeat, worker
from tasks.config import CeleryOptions, make_app

log = logging.getLogger(__name__)

settings = load_settings()
options = CeleryOptions.from_settings(settings)
app = make_app(settings)
celery = app


def _state() -> worker.WorkerState:
    return worker.current(settings, app, options)


@app.task(name="publisher.deliver")
def deliver(delivery_id: int) -> str:
    return _state().engine.process(delivery_id)


@app.task(name="publisher.deliver_batch")
def deliver_batch(channel: str, delivery_ids: list[int]) -> int:
    return _state().lane(channel).run(delivery_ids)


@app.task(name="publisher.deliver_set")
def deliver_set(by_channel: dict[str, list[int]]) -> int:
    return _state().deliver_set(by_channel)


@app.task(name="publisher.confirm")
def confirm(delivery_id: int) -> str:
    return _state().engine.confirm(delivery_id)


@app.task(name="publisher.sweep")
def sweep() -> int:
    """Reclaim expired leases, release scheduled items and reopened channels, and hand every
    due delivery the broker does not (or no longer) hold to its queue; poll confirmations.
    One sweep at a time across all workers (a Redis lock), so sweeps never pile up."""
    st = _state()
    lock = heartbeat.client(settings.broker_url)
    try:
        if not lock.set(heartbeat.SWEEP_LOCK, st.engine.worker, nx=True, px=30_000):
            return 0
        try:
            # One GET per sweep. A broker that lost its data lost the queued messages too: hand
            # over every due delivery now instead of waiting `stale_after` for each dispatch to
            # age (the claim's lease keeps a duplicate message from sending twice).
            lost = lock.set(heartbeat.BROKER_EPOCH, st.engine.worker, nx=True) is True
            if lost:
                log.warning("broker restarted empty: re-dispatching every due delivery now")
            due, accepted = st.engine.sweep(stale_after=0.0 if lost else options.stale_after)
            st.executor.wake(due, combine=False)  # per channel queue: reaches -Q pinned workers
            st.executor.confirm(accepted)
            return len(due)
        finally:
            lock.delete(heartbeat.SWEEP_LOCK)
    finally:
        lock.close()


@app.task(name="publisher.compliance_checks")
def compliance_checks() -> None:
    """Deadlines at risk, inspection thresholds, closed consultations; alerts go out through
    the event bus after commit."""
    engine = _state().engine
    run_periodic(engine.db, engine.settings, engine.channels)


_heartbeat: heartbeat.Heartbeat | None = None


@signals.worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    name = getattr(sender, "hostname", None) or "worker"
    _heartbeat = heartbeat.Heartbeat(settings.broker_url, name, options.heartbeat_ttl)
    _heartbeat.start()


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
    worker.shutdown()


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    worker.forget()
