"""Celery configuration built from publisher's settings: broker, queues, acknowledgement
semantics and the beat schedule. No tasks are registered here, so the web process can build
a sending-only app from its own settings (tasks are sent by name).

The executor's tunables are the `[celery]` section of the settings (PUBLISHER_CELERY_<FIELD>;
the older names in parentheses are still read):

    dispatch_stale_seconds  re-dispatch a due delivery handed to the broker this long ago and
                            still unclaimed (a lost message)  (PUBLISHER_DISPATCH_STALE_SECONDS) 120
    batch_size              deliveries claimed together (one claim and one record
                            transaction per batch)             (PUBLISHER_BATCH_SIZE)             64
    lane_threads            concurrent sends per channel in one worker (PUBLISHER_LANE_THREADS) 8
    lane_slots              Celery pool slots one channel may hold in a worker (PUBLISHER_LANE_SLOTS) 1
    heartbeat_seconds       TTL of the worker heartbeat key    (PUBLISHER_HEARTBEAT_SECONDS)      30

A worker's pool must have more slots than lane_slots x channels + 1 (the control
queue), e.g. `--pool threads --concurrency 12` for four channels. A batch is claimed at
once, so batch_size / lane_threads x the channel's timeout must stay below its lease
(64 / 8 x 10 s = 80 s against the default 120 s), or a slow endpoint's batch outlives its
lease and is sent twice. Batch size and lane threads were chosen with bench/fanout.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from kombu import Exchange, Queue

from publisher.settings import Settings, SettingsError

CONTROL_QUEUE = "publisher.control"
# one message for a wake-up whose deliveries span several channels (tasks/worker.py deliver_set)
SET_QUEUE = "publisher.deliveries"


def queue_for(channel: str) -> str:
    """One queue per channel instance, so a slow channel never starves another."""
    return f"publisher.{channel}"


@dataclass(frozen=True)
class CeleryOptions:
    stale_after: float = 120.0
    batch_size: int = 64
    lane_threads: int = 8
    lane_slots: int = 1
    heartbeat_ttl: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryOptions:
        c = settings.celery
        return cls(
            stale_after=c.dispatch_stale_seconds,
            batch_size=c.batch_size,
            lane_threads=c.lane_threads,
            lane_slots=c.lane_slots,
            heartbeat_ttl=c.heartbeat_seconds,
        )


def _queue(name: str) -> Queue:
    # an exchange of its own: Celery would otherwise bind every queue to the default one
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def make_app(settings: Settings, *, main: str = "publisher") -> Celery:
    if not settings.broker_url:
        raise SettingsError("未配置消息代理 / no broker configured: set PUBLISHER_BROKER_URL or [broker] url")
    app = Celery(main, broker=settings.broker_url, set_as_current=False)
    interval = settings.executor.sweep_interval_seconds
    app.conf.update(
        # Tasks are idempotent (the ledger's conditional claim decides who sends): acknowledge
        # after the work, and give the message back if the worker process dies under it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One reserved message per pool slot: a worker does not hoard messages another could run.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=CONTROL_QUEUE,
        task_queues=[_queue(CONTROL_QUEUE), _queue(SET_QUEUE)]
        + [_queue(queue_for(c)) for c in settings.enabled_channels()],
        task_routes={"publisher.sweep": {"queue": CONTROL_QUEUE}},
        # A message unacknowledged this long is handed out again by Redis. Our tasks are short
        # and the ledger's leases and sweeper recover anything lost, so this is only a backstop.
        broker_transport_options={"visibility_timeout": 3600},
        # see tasks/transport.py: survive the broker going away under unacknowledged messages
        broker_transport="tasks.transport:Transport" if settings.broker_url.startswith("redis://") else None,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # Sending from a web request must not hang while the broker is down: fail fast, the
        # delivery stays undispatched in the ledger and the sweeper hands it over later.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        broker_connection_timeout=2.0,
        worker_send_task_events=False,
        timezone="UTC",
        beat_schedule={
            "publisher.sweep": {
                "task": "publisher.sweep",
                "schedule": interval,
                # sweeps queued while no worker ran are worthless later: drop them
                "options": {"queue": CONTROL_QUEUE, "expires": max(5.0, 3 * interval)},
            },
            # statutory deadlines, inspection thresholds, closed consultations (issue #9)
            "publisher.compliance_checks": {
                "task": "publisher.compliance_checks",
                "schedule": settings.executor.compliance_interval_seconds,
                "options": {"queue": CONTROL_QUEUE, "expires": settings.executor.compliance_interval_seconds},
            },
        },
    )
    return app
