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
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as ThreadPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from channels.base import (
    Batching,
    ChannelConfigError,
    ChannelError,
    Confirming,
    Payload,
    Receipt,
)
from publisher.alerting.record import record as record_alert
from publisher.delivery import drift, ledger
from publisher.delivery.channelset import ChannelSet
from publisher.delivery.ledger import AdapterError, AttemptInfo, Effects
from publisher.delivery.policy import ChannelPolicy, channel_policy
from publisher.domain.clock import utcnow
from publisher.domain.item import Operation, Verdict, VersionView
from publisher.editorial import workflow
from publisher.editorial.views import views_of
from publisher.observe import events
from publisher.settings import Settings
from publisher.store.db import Database, Flush
from publisher.store.models import Delivery, Item, ItemVersion

log = logging.getLogger(__name__)

Dispatch = Callable[[list[int]], None]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease on, with everything the send needs."""

    delivery_id: int
    channel: str
    op: Operation
    view: VersionView
    key: str
    policy: ChannelPolicy


@dataclass(frozen=True)
class _Sent:
    """What one remote call produced: a receipt or a classified error."""

    started: datetime
    duration_ms: float
    receipt: Receipt | None
    error: ChannelError | None


class Engine:
    def __init__(
        self, db: Database, settings: Settings, channels: ChannelSet, *, worker: str | None = None
    ) -> None:
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
        # Run after each sweep, on the executor's clock (the alert clock: publisher/alerting/).
        self.after_sweep: list[Callable[[datetime], object]] = []

    def policy(self, channel: str) -> ChannelPolicy:
        return self.policies.get(channel, self.default_policy)

    def _after_commit(self, effects: Effects) -> None:
        for name, data in effects.events:
            events.emit(name, data)
        if effects.dispatch:
            self._dispatch(effects.dispatch)

    def _dispatch(self, ids: list[int]) -> None:
        # What is committed is safe in the ledger: a wake-up lost here (broker down) is
        # recovered by the sweeper, so it must never fail the caller (a provider callback).
        try:
            self.dispatch(ids)
        except Exception:
            log.exception("could not hand %d deliveries to the executor; the sweeper will", len(ids))

    # -- one delivery ----------------------------------------------------------------------
    def process(self, delivery_id: int) -> str:
        """Try to deliver one delivery: a batch of one. Returns what happened: 'skipped' (not
        claimable now), 'held', 'delivered', 'accepted', or the failure kind."""
        return self.process_batch([delivery_id])[delivery_id]

    def process_batch(self, delivery_ids: list[int], pool: ThreadPool | None = None) -> dict[int, str]:
        """Deliver several deliveries with two transactions in all: claim every claimable one,
        send them (concurrently on `pool` when given), record every outcome. Returns each
        id's outcome as process() would. A channel whose gate says 'probe' sends only one
        delivery (the probe); the rest of that channel's batch is held until it closes."""
        claimed, results = self.claim_batch(delivery_ids)
        if claimed:
            results.update(self.deliver_claimed(claimed, pool))
        return results

    def claim_batch(self, delivery_ids: list[int]) -> tuple[list[Claimed], dict[int, str]]:
        """process_batch's first transaction: claim what is claimable, with everything the
        sends need. Returns the claims (this worker now holds their leases: pass them to
        deliver_claimed) and the outcome of every id left out ('skipped', 'held')."""
        now = utcnow()
        results = dict.fromkeys(delivery_ids, "skipped")
        effects = Effects()
        with self.db.transaction(flush=Flush.LATER) as s:  # a lost claim only means a second send
            rows = s.connection().execute(_DUE_IN_BATCH, {"ids": list(delivery_ids), "now": now}).all()
            by_channel: dict[str, list[Any]] = {}
            for d in rows:
                by_channel.setdefault(d.channel, []).append(d)
            mine: list[tuple[Any, ChannelPolicy]] = []
            for channel, group in by_channel.items():
                policy = self.policy(channel)
                verdict, gate_effects = ledger.gate(s, channel, policy, self.worker, now)
                effects.merge(gate_effects)
                to_send = group if verdict is Verdict.SEND else group[:1] if verdict is Verdict.PROBE else []
                for d in group[len(to_send) :]:
                    if ledger.hold(s, d.id, now):
                        results[d.id] = "held"
                won = set(
                    ledger.claim_many(s, [d.id for d in to_send], self.worker, policy.lease_seconds, now)
                )
                mine += [(d, policy) for d in to_send if d.id in won]
            # one load of the items and versions for every channel's claims
            views = self._views(s, [d for d, _policy in mine])
            claimed: list[Claimed] = [
                Claimed(d.id, d.channel, Operation(d.operation), views[d.id], d.key, policy)
                for d, policy in mine
            ]
        self._after_commit(effects)
        for c in claimed:
            del results[c.delivery_id]
        return claimed, results

    def deliver_claimed(self, claimed: list[Claimed], pool: ThreadPool | None = None) -> dict[int, str]:
        """process_batch's second half: send what claim_batch claimed (concurrently on `pool`
        when given) and record every outcome in one transaction."""
        results: dict[int, str] = {}
        if not claimed:
            return results
        sent = self._send_all(claimed, pool)

        def record(s: Session) -> Effects:
            effects = Effects()
            successes: list[ledger.Success] = []
            for c, outcome in zip(claimed, sent, strict=True):
                r = outcome.receipt
                if r is None:
                    continue
                info = AttemptInfo(
                    outcome.started,
                    outcome.duration_ms,
                    r.http_status,
                    r.provider_code,
                    None,
                    r.response_excerpt,
                )
                successes.append(
                    ledger.Success(
                        c.delivery_id, info, r.accepted, r.external_id, r.url, dict(r.data) or None
                    )
                )
                results[c.delivery_id] = "accepted" if r.accepted else "delivered"
            # successes first: they lock rows then the channel row, as failures do
            effects.merge(
                ledger.record_successes(s, successes, self.worker, self.policies, self.default_policy)
            )
            for c, outcome in zip(claimed, sent, strict=True):
                if outcome.receipt is None:
                    recorded, results[c.delivery_id] = self._record_failure(s, c, outcome)
                    effects.merge(recorded)
            return effects

        effects = self.db.run(record)
        self._after_commit(effects)
        return results

    def _send_all(self, claimed: list[Claimed], pool: ThreadPool | None) -> list[_Sent]:
        """Send every claimed delivery: one call each, or chunks of `batch_size` for channels
        with a batch API; the calls (or chunks) run on `pool` when given."""
        units: list[list[int]] = []
        by_channel: dict[str, list[int]] = {}
        for i, c in enumerate(claimed):
            by_channel.setdefault(c.channel, []).append(i)
        for channel, idx in by_channel.items():
            try:
                adapter = self.channels.get(channel)
                size = max(1, adapter.batch_size) if isinstance(adapter, Batching) else 1
            except Exception:  # not configured here: each call records that failure
                size = 1
            units += [idx[k : k + size] for k in range(0, len(idx), size)]

        def run(unit: list[int]) -> list[_Sent]:
            if len(unit) == 1:
                return [self._call(claimed[unit[0]])]
            return self._call_many([claimed[i] for i in unit])

        done = list(pool.map(run, units)) if pool is not None and len(units) > 1 else [run(u) for u in units]
        out: list[_Sent | None] = [None] * len(claimed)
        for unit, results in zip(units, done, strict=True):
            for i, r in zip(unit, results, strict=True):
                out[i] = r
        return [o for o in out if o is not None]

    def _views(self, s: Session, rows: Sequence[Any]) -> dict[int, VersionView]:
        """The views of the claimed rows (id, item_id, version_id): one load of their items
        and versions, then `views_of`."""
        if not rows:
            return {}
        items: dict[int, Item] = {}
        versions: dict[int, ItemVersion] = {}
        for item, version in s.execute(
            _ITEMS_AND_VERSIONS, {"ids": list({d.version_id for d in rows})}
        ).tuples():
            items[item.id], versions[version.id] = item, version
        views = views_of(s, self.settings, [(items[d.item_id], versions[d.version_id]) for d in rows])
        return {d.id: view for d, view in zip(rows, views, strict=True)}

    def _call(self, c: Claimed) -> _Sent:
        """The remote part: render and send, with no transaction open."""
        started = utcnow()
        t0 = time.perf_counter()
        try:
            adapter = self.channels.get(c.channel)
            receipt = adapter.send(adapter.render(c.view, c.op), key=c.key)
        except Exception as exc:
            return _failed(c, exc, started, (time.perf_counter() - t0) * 1000)
        return _Sent(started, (time.perf_counter() - t0) * 1000, receipt, None)

    def _call_many(self, group: list[Claimed]) -> list[_Sent]:
        """One `send_many` for deliveries of one channel (at most its batch_size). Every
        delivery's attempt is recorded with the time of the whole batch."""
        started = utcnow()
        t0 = time.perf_counter()
        out: list[_Sent | None] = [None] * len(group)
        batch: list[tuple[Payload, str]] = []
        where: list[int] = []
        try:
            adapter = self.channels.get(group[0].channel)
        except Exception as exc:
            return [_failed(c, exc, started, 0.0) for c in group]
        assert isinstance(adapter, Batching)  # only a batching channel's sends come in groups
        for i, c in enumerate(group):
            try:
                batch.append((adapter.render(c.view, c.op), c.key))
                where.append(i)
            except Exception as exc:
                out[i] = _failed(c, exc, started, (time.perf_counter() - t0) * 1000)
        if batch:
            try:
                results: list[Receipt | ChannelError] = adapter.send_many(batch)
                if len(results) != len(batch):
                    raise ChannelError(
                        f"内部错误 / internal error: send_many answered {len(results)} of {len(batch)}"
                    )
            except Exception as exc:
                results = [exc if isinstance(exc, ChannelError) else _internal(exc) for _ in batch]
                if not isinstance(exc, ChannelError):
                    log.exception(
                        "unexpected error in channel %s (batch of %d)", group[0].channel, len(batch)
                    )
            ms = (time.perf_counter() - t0) * 1000
            for i, result in zip(where, results, strict=True):
                out[i] = (
                    _Sent(started, ms, result, None)
                    if isinstance(result, Receipt)
                    else _failed(group[i], result, started, ms)
                )
        return [o for o in out if o is not None]

    def _record_failure(self, s: Session, c: Claimed, sent: _Sent) -> tuple[Effects, str]:
        error = sent.error
        assert error is not None
        info = AttemptInfo(
            sent.started,
            sent.duration_ms,
            error.http_status,
            error.provider_code,
            error.message,
            error.response_excerpt,
        )
        effects = ledger.record_failure(s, c.delivery_id, self.worker, info, error=error, policy=c.policy)
        kind = ledger.failure_kind(error)
        log.info("delivery %s on %s: %s: %s", c.delivery_id, c.channel, kind, error.message)
        return effects, kind

    # -- confirmations (asynchronous channels) --------------------------------------------
    def confirm(self, delivery_id: int) -> str:
        with self.db.reader() as s:
            d = s.get(Delivery, delivery_id)
            if d is None or d.state != "accepted":
                return "skipped"
            channel = d.channel
            receipt = Receipt(external_id=d.external_id, url=d.url, accepted=True, data=dict(d.receipt or {}))
        try:
            adapter = self.channels.get(channel)
            confirmation = adapter.confirm(receipt) if isinstance(adapter, Confirming) else None
        except ChannelConfigError as exc:
            # rejected credentials while asking: the same as at send time, pause and tell ops
            log.warning("confirming delivery %s on %s: %s", delivery_id, channel, exc.message)
            reason = f"凭据或配置被拒绝 / credentials rejected: {exc.message}"
            rejected = {"channel": channel, "error": exc.message}

            def pause(s: Session) -> Effects:
                record_alert(s, "channel.credentials_rejected", rejected)  # with the pause it caused
                return ledger.pause(s, channel, reason, "system")

            self._after_commit(self.db.run(pause))
            events.emit("channel.credentials_rejected", rejected)
            confirmation = None
        except ChannelError as exc:
            log.info("confirming delivery %s on %s: %s", delivery_id, channel, exc.message)
            confirmation = None
        effects = self.db.run(
            lambda s: ledger.record_confirmation(
                s,
                delivery_id,
                delivered=None if confirmation is None else confirmation.delivered,
                url=None if confirmation is None else confirmation.url,
                error=None if confirmation is None else confirmation.error,
                flag=None if confirmation is None else confirmation.flag,
                policy=self.policy(channel),
            )
        )
        self._after_commit(effects)
        return (
            "pending"
            if confirmation is None or confirmation.delivered is None
            else ("delivered" if confirmation.delivered else "failed")
        )

    def confirm_external(
        self,
        channel: str,
        external_id: str,
        *,
        delivered: bool,
        error: str | None = None,
        url: str | None = None,
        flag: str | None = None,
    ) -> bool:
        """A provider pushed the outcome (e.g. WeChat's PUBLISHJOBFINISH). An outcome for a
        delivery not (or no longer) `accepted` only records its flag; a push that outran our
        own bookkeeping is picked up by confirmation polling."""

        def record(s: Session) -> Effects | None:
            delivery_id = ledger.find_accepted(s, channel, external_id) or (
                ledger.find_external(s, channel, external_id) if flag else None
            )
            if delivery_id is None:
                return None
            return ledger.record_confirmation(
                s,
                delivery_id,
                delivered=delivered,
                url=url,
                error=error,
                flag=flag,
                policy=self.policy(channel),
            )

        effects = self.db.run(record)
        if effects is None:
            return False
        self._after_commit(effects)
        return True

    # -- the sweeper -----------------------------------------------------------------------
    def sweep(
        self, now: datetime | None = None, limit: int = 1000, *, stale_after: float | None = None
    ) -> tuple[list[int], list[int]]:
        """Recover and release: expired leases, scheduled releases, held deliveries whose
        channel reopened. Returns (due delivery ids to send, accepted ids to confirm).

        With `stale_after` (a broker executor) the due ids are only those never handed to the
        broker or handed over more than `stale_after` seconds ago, so a sweep never floods
        the queues with deliveries already waiting there; deliveries this sweep itself made
        due (reclaimed, reopened, released) are always included."""
        now = now or utcnow()

        def recover(s: Session) -> tuple[Effects, workflow.Outcome]:
            effects = Effects()
            effects.merge(ledger.reclaim_expired(s, now, self.policies, self.default_policy))
            effects.merge(ledger.reopen_gates(s, now, self.policies, self.default_policy))
            return effects, workflow.release_due(s, now)

        effects, released = self.db.run(recover)
        for name, data in effects.events:
            events.emit(name, data)
        with self.db.reader() as s:
            if stale_after is None:
                due = ledger.due_ids(s, now, limit=limit)
            else:
                due = ledger.undispatched_due(s, now, stale_after, limit=limit)
            confirm = ledger.accepted_due(s, now)
        for hook in self.after_sweep:
            try:
                hook(now)
            except Exception:  # alerting failing must not stop the sweeper's recovery work
                log.exception("after-sweep hook %r failed", hook)
        return sorted(set(due) | set(effects.dispatch) | set(released.deliveries)), confirm

    # -- ops actions -----------------------------------------------------------------------
    def replay(self, delivery_id: int, actor: str) -> bool:
        with self.db.transaction() as s:
            ok = ledger.replay(s, delivery_id, actor)
        if ok:
            self._dispatch([delivery_id])
        return ok

    def repush(self, delivery_id: int, actor: str) -> bool:
        """A delivered copy that drifted, sent again (its open drifts end as re-pushed)."""
        with self.db.transaction() as s:
            ok = ledger.repush(s, delivery_id, actor)
            if ok:
                drift.resolve_repushed(s, delivery_id, actor, utcnow())
        if ok:
            self._dispatch([delivery_id])
        return ok

    def replay_failed(
        self, channel: str, actor: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[int]:
        with self.db.transaction() as s:
            ids = [i for i in ledger.failed_ids(s, channel, since, until) if ledger.replay(s, i, actor)]
        self._dispatch(ids)
        return ids

    def retry_now(self, channel: str, actor: str) -> list[int]:
        """Make a channel's waiting retries due now (e.g. after a quota reset by the provider)."""
        ids = self.db.run(lambda s: ledger.expedite(s, channel, actor))
        self._dispatch(ids)
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

    def mark_dispatched(self, ids: list[int], *, dispatched: bool = True) -> None:
        """Record that `ids` were handed to a broker (or, with dispatched=False, that the
        hand-over failed, so the next sweep picks them up at once)."""
        if not ids:
            return
        with self.db.transaction(flush=Flush.LATER) as s:
            if dispatched:
                ledger.mark_dispatched(s, ids, utcnow())
            else:
                ledger.clear_dispatched(s, ids)

    def channel_of(self, ids: list[int]) -> dict[int, str]:
        with self.db.reader() as s:
            return dict(
                s.execute(select(Delivery.id, Delivery.channel).where(Delivery.id.in_(ids))).tuples().all()
            )


# process_batch's statements, built once: they run for every batch a worker takes
_DUE_IN_BATCH = (
    select(
        Delivery.id, Delivery.channel, Delivery.operation, Delivery.key, Delivery.item_id, Delivery.version_id
    )
    .where(
        Delivery.id.in_(bindparam("ids", expanding=True)),
        Delivery.state.in_(ledger.CLAIMABLE),
        Delivery.next_attempt_at <= bindparam("now"),
    )
    .order_by(Delivery.id)
)
_ITEMS_AND_VERSIONS = (
    select(Item, ItemVersion)
    .join(ItemVersion, ItemVersion.item_id == Item.id)
    .where(ItemVersion.id.in_(bindparam("ids", expanding=True)))
)


def _internal(exc: BaseException) -> ChannelError:
    return AdapterError(f"内部错误 / internal error: {type(exc).__name__}: {exc}"[:500])


def _failed(c: Claimed, exc: BaseException, started: datetime, duration_ms: float) -> _Sent:
    """A failure of one delivery: its classified error, or an AdapterError for anything else
    (an adapter bug, logged here with its traceback)."""
    if not isinstance(exc, ChannelError):
        log.exception("delivery %s: unexpected error in channel %s", c.delivery_id, c.channel, exc_info=exc)
        exc = _internal(exc)
    return _Sent(started, duration_ms, None, exc)
