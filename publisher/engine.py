"""The delivery engine: claim → render → send → record, for one delivery at a time, plus
the sweeper and confirmation polling. Executors (embedded threads, Celery tasks) only call
these methods; the ledger in the store is the truth, so any executor can die at any point
and the sweeper puts things right.

Nothing is sent inside a transaction: the claim commits first, the remote call happens
with no transaction open, and the outcome is recorded in a second transaction.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from channels.base import (
    ChannelConfigError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    Receipt,
)

from . import events, ledger, workflow
from .channelset import ChannelSet
from .clock import utcnow
from .db import Database
from .domain import Operation
from .ledger import AttemptInfo, Effects
from .models import Delivery, Item, ItemVersion
from .policy import ChannelPolicy, channel_policy
from .settings import Settings

log = logging.getLogger(__name__)

Dispatch = Callable[[list[int]], None]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Engine:
    def __init__(self, db: Database, settings: Settings, channels: ChannelSet, *, worker: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.channels = channels
        self.worker = worker or worker_name()
        self.default_policy = channel_policy({}, settings.executor.lease_seconds)
        self.policies = {
            kind: channel_policy(settings.channel(kind), settings.executor.lease_seconds)
            for kind in settings.channels
        }
        # Where deliveries that became due as a side effect go (dependents, released holds).
        self.dispatch: Dispatch = lambda ids: None

    def policy(self, channel: str) -> ChannelPolicy:
        return self.policies.get(channel, self.default_policy)

    def _after_commit(self, effects: Effects) -> None:
        for name, data in effects.events:
            events.emit(name, data)
        if effects.dispatch:
            self.dispatch(effects.dispatch)

    # -- one delivery ----------------------------------------------------------------------
    def process(self, delivery_id: int) -> str:
        """Try to deliver one delivery. Returns what happened: 'skipped' (not claimable now),
        'held', 'delivered', 'accepted', or the failure kind."""
        now = utcnow()
        with self.db.transaction() as s:
            d = s.get(Delivery, delivery_id)
            if d is None or d.state not in ledger.CLAIMABLE or d.next_attempt_at > now:
                return "skipped"
            channel, op = d.channel, Operation(d.operation)
            policy = self.policy(channel)
            verdict, effects = ledger.gate(s, channel, policy, self.worker, now)
            if verdict == "held":
                ledger.hold(s, delivery_id, now)
            elif not ledger.claim(s, delivery_id, self.worker, policy.lease_seconds, now):
                return "skipped"
            else:
                item = s.get(Item, d.item_id)
                version = s.get(ItemVersion, d.version_id)
                assert item is not None and version is not None
                view = workflow.view_of(s, self.settings, item, version)
                key = d.key
        self._after_commit(effects)
        if verdict == "held":
            return "held"
        return self._send(delivery_id, channel, op, view, key, policy)

    def _send(self, delivery_id: int, channel: str, op: Operation, view: object, key: str, policy: ChannelPolicy) -> str:
        started = utcnow()
        t0 = time.perf_counter()
        receipt: Receipt | None = None
        error: ChannelError | None = None
        kind = "error"
        try:
            adapter = self.channels.get(channel)
            payload = adapter.render(view, op)  # type: ignore[arg-type]
            receipt = adapter.send(payload, key=key)
        except RateLimitedError as exc:
            error, kind = exc, "rate_limited"
        except ChannelConfigError as exc:
            error, kind = exc, "config"
        except PermanentError as exc:
            error, kind = exc, "permanent"
        except ChannelError as exc:
            error, kind = exc, "transient"
        except Exception as exc:  # an adapter bug: record it and retry like a transient error
            log.exception("delivery %s: unexpected error in channel %s", delivery_id, channel)
            error = ChannelError(f"内部错误 / internal error: {type(exc).__name__}: {exc}"[:500])
        duration = (time.perf_counter() - t0) * 1000
        with self.db.transaction() as s:
            if receipt is not None:
                info = AttemptInfo(started, duration, receipt.http_status, receipt.provider_code, None,
                                   receipt.response_excerpt)
                effects = ledger.record_success(
                    s, delivery_id, self.worker, info, accepted=receipt.accepted, external_id=receipt.external_id,
                    url=receipt.url, receipt=dict(receipt.data) or None, policy=policy,
                )
                outcome = "accepted" if receipt.accepted else "delivered"
            else:
                assert error is not None
                info = AttemptInfo(started, duration, error.http_status, error.provider_code, error.message,
                                   error.response_excerpt)
                retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                effects = ledger.record_failure(
                    s, delivery_id, self.worker, info, kind=kind, retry_after=retry_after, policy=policy
                )
                outcome = kind
                log.info("delivery %s on %s: %s: %s", delivery_id, channel, kind, error.message)
        self._after_commit(effects)
        return outcome

    # -- confirmations (asynchronous channels) --------------------------------------------
    def confirm(self, delivery_id: int) -> str:
        with self.db.reader() as s:
            d = s.get(Delivery, delivery_id)
            if d is None or d.state != "accepted":
                return "skipped"
            channel = d.channel
            receipt = Receipt(external_id=d.external_id, url=d.url, accepted=True, data=dict(d.receipt or {}))
        try:
            confirmation = self.channels.get(channel).confirm(receipt)
        except ChannelError as exc:
            log.info("confirming delivery %s on %s: %s", delivery_id, channel, exc.message)
            confirmation = None
        with self.db.transaction() as s:
            effects = ledger.record_confirmation(
                s, delivery_id,
                delivered=None if confirmation is None else confirmation.delivered,
                url=None if confirmation is None else confirmation.url,
                error=None if confirmation is None else confirmation.error,
                flag=None if confirmation is None else confirmation.flag,
                policy=self.policy(channel),
            )
        self._after_commit(effects)
        return "pending" if confirmation is None or confirmation.delivered is None else (
            "delivered" if confirmation.delivered else "failed")

    def confirm_external(self, channel: str, external_id: str, *, delivered: bool, error: str | None = None,
                         url: str | None = None, flag: str | None = None) -> bool:
        """A provider pushed the outcome (e.g. WeChat's PUBLISHJOBFINISH)."""
        with self.db.transaction() as s:
            delivery_id = ledger.find_accepted(s, channel, external_id)
            if delivery_id is None:
                return False
            effects = ledger.record_confirmation(
                s, delivery_id, delivered=delivered, url=url, error=error, flag=flag, policy=self.policy(channel)
            )
        self._after_commit(effects)
        return True

    # -- the sweeper -----------------------------------------------------------------------
    def sweep(self, now: datetime | None = None, limit: int = 1000) -> tuple[list[int], list[int]]:
        """Recover and release: expired leases, scheduled releases, held deliveries whose
        channel reopened. Returns (due delivery ids to send, accepted ids to confirm)."""
        now = now or utcnow()
        effects = Effects()
        with self.db.transaction() as s:
            effects.merge(ledger.reclaim_expired(s, now, self.policies, self.default_policy))
            effects.merge(ledger.reopen_gates(s, now, self.policies, self.default_policy))
            released = workflow.release_due(s, now)
        for name, data in effects.events:
            events.emit(name, data)
        with self.db.reader() as s:
            due = ledger.due_ids(s, now, limit=limit)
            confirm = ledger.accepted_due(s, now)
        return sorted(set(due) | set(effects.dispatch) | set(released.deliveries)), confirm

    # -- ops actions -----------------------------------------------------------------------
    def replay(self, delivery_id: int, actor: str) -> bool:
        with self.db.transaction() as s:
            ok = ledger.replay(s, delivery_id, actor)
        if ok:
            self.dispatch([delivery_id])
        return ok

    def replay_failed(self, channel: str, actor: str, since: datetime | None = None,
                      until: datetime | None = None) -> list[int]:
        with self.db.transaction() as s:
            ids = [i for i in ledger.failed_ids(s, channel, since, until) if ledger.replay(s, i, actor)]
        self.dispatch(ids)
        return ids

    def pause(self, channel: str, reason: str, actor: str) -> None:
        with self.db.transaction() as s:
            effects = ledger.pause(s, channel, reason, actor)
        self._after_commit(effects)

    def resume(self, channel: str, actor: str) -> list[int]:
        with self.db.transaction() as s:
            effects = ledger.resume(s, channel, actor)
        self._after_commit(effects)
        return effects.dispatch

    def channel_of(self, ids: list[int]) -> dict[int, str]:
        with self.db.reader() as s:
            return dict(s.execute(select(Delivery.id, Delivery.channel).where(Delivery.id.in_(ids))).tuples().all())
