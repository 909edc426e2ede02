"""Delivery ledger transitions. The only code that changes a delivery's state.

    queued ──claim──▶ sending ──▶ accepted ──confirm──▶ delivered
                         │          (async channels)
                         ├─ retryable ─▶ retry_wait (next_attempt_at) ─due─▶ sending
                         ├─ permanent / exhausted ─▶ failed ─(replay)─▶ queued
                         └─ breaker open / paused ─▶ held ─(closed, resumed)─▶ queued
    queued/retry_wait/held ─(newer version or withdrawal)─▶ superseded   (workflow._enqueue)
    delivered ─(ops re-push after inspection found the live copy drifted)─▶ queued

Every function takes an open session and never commits; events to announce are returned
so the caller emits them after commit. Claims are conditional UPDATEs: a claim that changes
no row lost a race and the caller moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from channels.base import ChannelConfigError, ChannelError, PermanentError, RateLimitedError
from publisher.alerting.record import record as record_alert
from publisher.delivery.policy import ChannelPolicy
from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.item import Breaker as B
from publisher.domain.item import DeliveryState as S
from publisher.domain.item import Outcome as O
from publisher.domain.item import Verdict as V
from publisher.editorial import audit
from publisher.store import copies
from publisher.store.channel_values import clear_checkpoint
from publisher.store.models import Attempt, ChannelState, Delivery, Item, LiveCopy

log = logging.getLogger(__name__)

CLAIMABLE = (S.QUEUED.value, S.RETRY_WAIT.value)
FAILURE_OUTCOMES = (O.TRANSIENT, O.RATE_LIMITED, O.CONFIG, O.LOST, O.ERROR)


class AdapterError(ChannelError):
    """An exception an adapter raised that is not one of the classified errors: a bug in the
    adapter. Recorded as `Outcome.ERROR` and retried like a transient error."""


def failure_kind(error: ChannelError) -> O:
    """What the ledger does with a failed send, from the class of its error."""
    if isinstance(error, AdapterError):
        return O.ERROR
    if isinstance(error, RateLimitedError):
        return O.RATE_LIMITED
    if isinstance(error, ChannelConfigError):
        return O.CONFIG
    if isinstance(error, PermanentError):
        return O.PERMANENT
    return O.TRANSIENT


@dataclass
class Effects:
    """What a transition wants done after commit: deliveries to dispatch, events to emit."""

    dispatch: list[int] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def merge(self, other: Effects) -> Effects:
        self.dispatch += other.dispatch
        self.events += other.events
        return self


@dataclass(frozen=True)
class AttemptInfo:
    started_at: datetime
    duration_ms: float
    http_status: int | None = None
    provider_code: str | None = None
    error: str | None = None
    response_excerpt: str | None = None


def _rows(result: Any) -> int:
    """Rows an UPDATE changed (CursorResult.rowcount; the typed Result hides it)."""
    return int(result.rowcount)


# -- channel gate (pause + circuit breaker) ------------------------------------------------


def channel_state(session: Session, channel: str, *, lock: bool = False) -> ChannelState:
    stmt = select(ChannelState).where(ChannelState.channel == channel)
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        # Two workers may meet a channel for the first time together: insert-if-absent,
        # then read whichever row won.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(ChannelState)
            .values(
                channel=channel, paused=False, breaker=B.CLOSED, consecutive_failures=0, updated_at=utcnow()
            )
            .on_conflict_do_nothing(index_elements=["channel"])
        )
        row = session.execute(stmt).scalar_one()
    return row


_GATE = select(ChannelState.paused, ChannelState.breaker).where(ChannelState.channel == bindparam("channel"))


def gate(
    session: Session, channel: str, policy: ChannelPolicy, worker: str, now: datetime
) -> tuple[V, Effects]:
    """SEND when the channel may be used, PROBE when this send is the half-open probe, HELD
    when deliveries must wait (paused, breaker open, or a probe already in flight)."""
    effects = Effects()
    # the common case, an open channel with a closed breaker, answered by one Core read
    fast = session.connection().execute(_GATE, {"channel": channel}).first()
    if fast is not None and not fast.paused and fast.breaker == B.CLOSED:
        return V.SEND, effects
    st = channel_state(session, channel)
    if st.paused:
        return V.HELD, effects
    if st.breaker == B.CLOSED:
        return V.SEND, effects
    if st.breaker == B.OPEN:
        if st.opened_at is not None and now - st.opened_at >= timedelta(
            seconds=policy.breaker.cooldown_seconds
        ):
            took = _rows(
                session.execute(
                    update(ChannelState)
                    .where(ChannelState.channel == channel, ChannelState.breaker == B.OPEN)
                    .values(breaker=B.HALF_OPEN, probe_owner=worker, updated_at=now)
                )
            )
            if took == 1:
                _breaker_event(
                    session, channel, B.HALF_OPEN, effects, "冷却结束，发送探测 / cooldown over, probing"
                )
                return V.PROBE, effects
        return V.HELD, effects
    # half_open: only the probe owner sends
    return (V.PROBE if st.probe_owner == worker else V.HELD), effects


def _announce(session: Session, effects: Effects, name: str, data: dict[str, Any]) -> None:
    """Announce after commit (the event bus) and record the alert in this very transaction, so
    the alert is committed with its cause in whichever process caused it (publisher/alerting/)."""
    effects.events.append((name, data))
    record_alert(session, name, data)


def _breaker_event(session: Session, channel: str, state: B, effects: Effects, reason: str) -> None:
    log.warning("channel %s breaker -> %s: %s", channel, state, reason)
    audit.append(
        session, actor="system", action=AuditAction.breaker(state), reason=reason, data={"channel": channel}
    )
    _announce(session, effects, f"breaker.{state}", {"channel": channel, "reason": reason})


def hold(session: Session, delivery_id: int, now: datetime) -> bool:
    return (
        _rows(
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.state.in_(CLAIMABLE))
                .values(state=S.HELD.value, updated_at=now)
            )
        )
        == 1
    )


def release_held(session: Session, channel: str, now: datetime) -> list[int]:
    ids = list(
        session.execute(
            select(Delivery.id).where(Delivery.channel == channel, Delivery.state == S.HELD)
        ).scalars()
    )
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.state == S.HELD)
            .values(state=S.QUEUED.value, next_attempt_at=now, updated_at=now)
        )
    return ids


# -- claiming -------------------------------------------------------------------------------


def _prerequisite_met() -> Any:
    """An interpretation waits for its policy on the same channel (a failed policy blocks
    it); a later operation on the same item waits for the one in flight before it."""
    prev = aliased(Delivery)
    return or_(
        Delivery.after_delivery_id.is_(None),
        exists(
            select(prev.id).where(
                prev.id == Delivery.after_delivery_id,
                or_(
                    prev.state.in_((S.DELIVERED.value, S.SUPERSEDED.value)),
                    and_(prev.state == S.FAILED.value, prev.item_id == Delivery.item_id),
                ),
            )
        ),
    )


def claim_many(
    session: Session, ids: list[int], worker: str, lease_seconds: float, now: datetime
) -> list[int]:
    """Take due deliveries for sending in one statement; returns the ids this worker won (not
    those not due, not claimable, waiting for a prerequisite, or taken by another worker)."""
    if not ids:
        return []
    won = (
        session.connection()
        .execute(
            _CLAIM,
            {
                "ids": list(ids),
                "c_now": now,
                "c_worker": worker,
                "c_until": now + timedelta(seconds=lease_seconds),
            },
        )
        .scalars()
    )
    return sorted(won)


def due_ids(session: Session, now: datetime, *, channel: str | None = None, limit: int = 500) -> list[int]:
    """Due, claimable deliveries, oldest first (the sweeper's read: claim_many locks and
    re-checks the rows it takes)."""
    stmt = (
        select(Delivery.id)
        .where(Delivery.state.in_(CLAIMABLE), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(Delivery.channel == channel)
    return list(session.execute(stmt).scalars())


# -- recording outcomes ---------------------------------------------------------------------


def _attempt(session: Session, d: Delivery, outcome: str, info: AttemptInfo, worker: str) -> None:
    session.add(Attempt(**_attempt_row(d.id, d.attempts, outcome, info, worker)))


def _locked(session: Session, delivery_id: int) -> Delivery:
    return session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).scalar_one()


def _ours(d: Delivery, worker: str) -> bool:
    return d.state == S.SENDING and d.lease_owner == worker


_BREAKER_CLEAN = select(ChannelState.breaker, ChannelState.consecutive_failures).where(
    ChannelState.channel == bindparam("channel")
)


def _breaker_success(session: Session, channel: str, now: datetime, effects: Effects) -> None:
    # The common case, a closed breaker with no failures counted, needs no write: skipping
    # it spares every success a row lock that all workers of the channel would queue on.
    clean = session.connection().execute(_BREAKER_CLEAN, {"channel": channel}).first()
    if clean is None or (clean.breaker == B.CLOSED and clean.consecutive_failures == 0):
        return  # no row yet: nothing has failed on this channel
    st = channel_state(session, channel, lock=True)
    if st.breaker != B.CLOSED:
        st.breaker, st.opened_at, st.probe_owner = B.CLOSED, None, None
        _breaker_event(session, channel, B.CLOSED, effects, "探测成功 / probe succeeded")
        effects.dispatch += release_held(session, channel, now)
    st.consecutive_failures = 0
    st.updated_at = now


def _breaker_failure(
    session: Session, channel: str, policy: ChannelPolicy, now: datetime, effects: Effects
) -> None:
    st = channel_state(session, channel, lock=True)
    st.consecutive_failures += 1
    st.updated_at = now
    if st.breaker == B.HALF_OPEN:
        st.breaker, st.opened_at, st.probe_owner = B.OPEN, now, None
        _breaker_event(session, channel, B.OPEN, effects, "探测失败 / probe failed")
        return
    if st.breaker != B.CLOSED:
        return
    reason = None
    if st.consecutive_failures >= policy.breaker.failures:
        reason = f"连续失败{st.consecutive_failures}次 / {st.consecutive_failures} consecutive failures"
    else:
        recent = list(
            session.execute(
                select(Attempt.outcome)
                .join(Delivery, Delivery.id == Attempt.delivery_id)
                .where(Delivery.channel == channel)
                .order_by(Attempt.id.desc())
                .limit(policy.breaker.window)
            ).scalars()
        )
        if len(recent) >= policy.breaker.min_samples:
            failed = sum(1 for o in recent if o in FAILURE_OUTCOMES)
            if failed / len(recent) >= policy.breaker.ratio:
                reason = (
                    f"近{len(recent)}次失败{failed}次 / {failed} of the last {len(recent)} attempts failed"
                )
    if reason:
        st.breaker, st.opened_at, st.probe_owner = B.OPEN, now, None
        _breaker_event(session, channel, B.OPEN, effects, reason)


@dataclass(frozen=True)
class Success:
    """One successful send, for record_successes()."""

    delivery_id: int
    info: AttemptInfo
    accepted: bool
    external_id: str | None = None
    url: str | None = None
    receipt: dict[str, Any] | None = None


# Prebuilt Core statements for the per-batch hot path (every send is recorded through here):
# building ORM statements and flushing ORM objects cost several times the SQL itself.
_SUCCESS_ROWS = (
    select(
        Delivery.id,
        Delivery.state,
        Delivery.channel,
        Delivery.attempts,
        Delivery.external_id,
        Delivery.url,
        Delivery.next_attempt_at,
    )
    .where(Delivery.id.in_(bindparam("ids", expanding=True)))
    .order_by(Delivery.id)
    .with_for_update()
)
_ATTEMPTS_INSERT = insert(Attempt)
_SUCCESS_UPDATE = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        external_id=bindparam("b_external_id"),
        url=bindparam("b_url"),
        receipt=bindparam("b_receipt"),
        sent_at=bindparam("b_now"),
        last_error=None,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("b_now"),
        delivered_at=bindparam("b_delivered_at"),
        next_attempt_at=bindparam("b_next"),
    )
)
_DEPENDENTS = select(Delivery.id).where(
    Delivery.after_delivery_id.in_(bindparam("ids", expanding=True)), Delivery.state.in_(CLAIMABLE)
)


def _attempt_row(
    delivery_id: int, number: int, outcome: str, info: AttemptInfo, worker: str
) -> dict[str, Any]:
    return dict(
        delivery_id=delivery_id,
        number=number,
        started_at=info.started_at,
        duration_ms=info.duration_ms,
        outcome=outcome,
        http_status=info.http_status,
        provider_code=info.provider_code,
        error=(info.error or None) and info.error[:1000],
        response_excerpt=(info.response_excerpt or None) and info.response_excerpt[:1000],
        worker=worker,
    )


def record_successes(
    session: Session,
    successes: list[Success],
    worker: str,
    policies: dict[str, ChannelPolicy],
    default: ChannelPolicy,
    now: datetime | None = None,
) -> Effects:
    """Record successful sends (one or many) with a handful of statements instead of several
    per delivery: rows locked in one SELECT (in id order, so batches never deadlock), attempts
    inserted together, the rows updated together, dependents found in one query, each
    channel's breaker touched once (and only when it is not closed and clean)."""
    now = now or utcnow()
    effects = Effects()
    if not successes:
        return effects
    by_id = {s.delivery_id: s for s in successes}
    conn = session.connection()
    rows = conn.execute(_SUCCESS_ROWS, {"ids": list(by_id)}).all()
    attempts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    delivered: list[int] = []
    touched: set[str] = set()
    for d in rows:
        s = by_id[d.id]
        attempts.append(
            _attempt_row(d.id, d.attempts, O.ACCEPTED if s.accepted else O.SUCCESS, s.info, worker)
        )
        if d.state in (S.DELIVERED, S.SUPERSEDED) or (d.state == S.ACCEPTED and s.accepted):
            continue
        if s.accepted:
            state, delivered_at = S.ACCEPTED.value, None
            next_at = now + timedelta(seconds=policies.get(d.channel, default).confirm_interval_seconds)
        else:
            state, delivered_at, next_at = S.DELIVERED.value, now, d.next_attempt_at
            delivered.append(d.id)
        updates.append(
            dict(
                b_id=d.id,
                b_state=state,
                b_external_id=s.external_id or d.external_id,
                b_url=s.url or d.url,
                b_receipt=s.receipt,
                b_now=now,
                b_delivered_at=delivered_at,
                b_next=next_at,
            )
        )
        touched.add(d.channel)
    if attempts:
        conn.execute(_ATTEMPTS_INSERT, attempts)
    if updates:
        conn.execute(_SUCCESS_UPDATE, updates)
    if delivered:
        effects.dispatch += list(conn.execute(_DEPENDENTS, {"ids": delivered}).scalars())
        copies.enroll(session, delivered, now)
    for channel in sorted(touched):
        _breaker_success(session, channel, now, effects)
    return effects


def _dependents(session: Session, delivery_id: int) -> list[int]:
    return list(
        session.execute(
            select(Delivery.id).where(
                Delivery.after_delivery_id == delivery_id, Delivery.state.in_(CLAIMABLE)
            )
        ).scalars()
    )


def record_failure(
    session: Session,
    delivery_id: int,
    worker: str,
    info: AttemptInfo,
    *,
    error: ChannelError,
    policy: ChannelPolicy,
    now: datetime | None = None,
) -> Effects:
    """A failed send, as its classified error says: retry later (within the budget, after
    the provider's retry-after for a rate limit), fail, or hold and pause the channel."""
    now = now or utcnow()
    kind = failure_kind(error)
    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
    effects = Effects()
    d = _locked(session, delivery_id)
    _attempt(session, d, kind, info, worker)
    if not _ours(d, worker):
        return effects  # the lease expired and the sweeper or another worker took it over
    d.last_error = (info.error or kind)[:1000]
    d.lease_owner, d.lease_expires_at = None, None
    d.updated_at = now
    if kind is O.PERMANENT:
        d.state = S.FAILED.value
        _announce(session, effects, "delivery.failed", _event_data(d))
        return effects
    if kind is O.CONFIG:
        d.state = S.HELD.value
        effects.merge(
            pause(session, d.channel, f"凭据或配置被拒绝 / credentials rejected: {info.error}", "system", now)
        )
        _announce(
            session, effects, "channel.credentials_rejected", {"channel": d.channel, "error": info.error}
        )
        return effects
    budget = policy.retry.max_attempts * (4 if kind is O.RATE_LIMITED else 1)
    if d.attempts >= budget:
        d.state = S.FAILED.value
        d.last_error = f"重试{d.attempts}次后仍失败 / gave up after {d.attempts} attempts: {d.last_error}"[
            :1000
        ]
        _announce(session, effects, "delivery.failed", _event_data(d))
    else:
        delay = (
            retry_after
            if (kind is O.RATE_LIMITED and retry_after is not None)
            else policy.retry.delay(d.attempts)
        )
        d.state = S.RETRY_WAIT.value
        d.next_attempt_at = now + timedelta(seconds=delay)
        d.dispatched_at = None
    if kind in (O.TRANSIENT, O.RATE_LIMITED, O.ERROR):
        _breaker_failure(session, d.channel, policy, now, effects)
    return effects


def _event_data(d: Delivery) -> dict[str, Any]:
    return {
        "delivery": d.id,
        "channel": d.channel,
        "operation": d.operation,
        "item_id": d.item_id,
        "error": d.last_error,
        "attempts": d.attempts,
    }


def record_confirmation(
    session: Session,
    delivery_id: int,
    *,
    delivered: bool | None,
    url: str | None,
    error: str | None,
    flag: str | None,
    policy: ChannelPolicy,
    now: datetime | None = None,
) -> Effects:
    now = now or utcnow()
    effects = Effects()
    d = _locked(session, delivery_id)
    if flag:
        audit.append(
            session,
            actor="system",
            action=AuditAction.CHANNEL_FLAG,
            reason=flag,
            data={"channel": d.channel, "delivery": d.id},
        )
        _announce(session, effects, "item.flagged", {**_event_data(d), "flag": flag})
    if d.state != S.ACCEPTED:
        return effects
    d.updated_at = now
    if delivered is None:
        if d.sent_at is not None and now - d.sent_at > timedelta(seconds=policy.confirm_timeout_seconds):
            d.state = S.FAILED.value
            d.last_error = "渠道长时间未确认 / no confirmation from the channel in time"
            _announce(session, effects, "delivery.failed", _event_data(d))
        else:
            d.next_attempt_at = now + timedelta(seconds=policy.confirm_interval_seconds)
        return effects
    if delivered:
        d.state = S.DELIVERED.value
        d.delivered_at = now
        d.url = url or d.url
        effects.dispatch += _dependents(session, d.id)
        session.flush()
        copies.enroll(session, [d.id], now)
    else:
        d.state = S.FAILED.value
        d.last_error = (error or "渠道拒绝 / rejected by the channel")[:1000]
        _announce(session, effects, "delivery.failed", _event_data(d))
    return effects


def accepted_due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return list(
        session.execute(
            select(Delivery.id)
            .where(Delivery.state == S.ACCEPTED, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        ).scalars()
    )


def find_accepted(session: Session, channel: str, external_id: str) -> int | None:
    return session.execute(
        select(Delivery.id)
        .where(Delivery.channel == channel, Delivery.external_id == external_id, Delivery.state == S.ACCEPTED)
        .order_by(Delivery.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def find_external(session: Session, channel: str, external_id: str) -> int | None:
    """The newest delivery with this provider id in any state (a flag for something already
    delivered, e.g. WeChat reporting an article deleted after publication)."""
    return session.execute(
        select(Delivery.id)
        .where(Delivery.channel == channel, Delivery.external_id == external_id)
        .order_by(Delivery.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def expedite(session: Session, channel: str, actor: str, now: datetime | None = None) -> list[int]:
    """Make a channel's waiting retries due now (ops: the quota was raised, the fault fixed)."""
    now = now or utcnow()
    ids = list(
        session.execute(
            select(Delivery.id)
            .where(Delivery.channel == channel, Delivery.state == S.RETRY_WAIT)
            .order_by(Delivery.id)
        ).scalars()
    )
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.state == S.RETRY_WAIT)
            .values(next_attempt_at=now, dispatched_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.append(
            session,
            actor=actor,
            action=AuditAction.CHANNEL_RETRY_NOW,
            data={"channel": channel, "count": len(ids)},
        )
    return ids


# -- sweeping -------------------------------------------------------------------------------


def _has_newer(session: Session, d: Delivery) -> bool:
    """Whether a later delivery of the same item on the same channel exists: it carries the
    newer content (or the withdrawal), so re-sending this one would only reorder them."""
    return (
        session.execute(
            select(Delivery.id)
            .where(
                Delivery.item_id == d.item_id,
                Delivery.channel == d.channel,
                Delivery.id > d.id,
                Delivery.state != S.SUPERSEDED,
            )
            .limit(1)
        ).first()
        is not None
    )


def reclaim_expired(
    session: Session, now: datetime, policies: dict[str, ChannelPolicy], default: ChannelPolicy
) -> Effects:
    """`sending` rows whose lease ran out (a worker died mid-send): back to retry_wait, due now,
    with a `lost` attempt on record. The adapters' idempotency makes the resend safe. A row
    that a newer delivery of the same item and channel already follows is superseded instead:
    the newer one waits for it (after_delivery_id) and carries the latest content."""
    effects = Effects()
    rows = (
        session.execute(
            select(Delivery)
            .where(Delivery.state == S.SENDING, Delivery.lease_expires_at < now)
            .order_by(Delivery.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    for d in rows:
        if _has_newer(session, d):
            info = AttemptInfo(
                started_at=d.updated_at,
                duration_ms=(now - d.updated_at).total_seconds() * 1000,
                error="工作进程中断；已有更新的投递 / worker lost; a newer delivery follows",
            )
            _attempt(session, d, O.LOST, info, d.lease_owner or "?")
            d.lease_owner, d.lease_expires_at = None, None
            d.state, d.updated_at, d.last_error = S.SUPERSEDED.value, now, info.error
            effects.dispatch += _dependents(session, d.id)
            continue
        info = AttemptInfo(
            started_at=d.updated_at,
            duration_ms=(now - d.updated_at).total_seconds() * 1000,
            error="工作进程中断，租约过期 / worker lost, lease expired",
        )
        _attempt(session, d, O.LOST, info, d.lease_owner or "?")
        policy = policies.get(d.channel, default)
        d.lease_owner, d.lease_expires_at = None, None
        d.updated_at = now
        d.last_error = info.error
        if d.attempts >= policy.retry.max_attempts * 2:
            d.state = S.FAILED.value
            _announce(session, effects, "delivery.failed", _event_data(d))
        else:
            d.state = S.RETRY_WAIT.value
            d.next_attempt_at = now
            d.dispatched_at = None
            effects.dispatch.append(d.id)
    return effects


def reopen_gates(
    session: Session, now: datetime, policies: dict[str, ChannelPolicy], default: ChannelPolicy
) -> Effects:
    """Held deliveries of channels that are neither paused nor open go back to the queue; an
    open breaker past its cooldown lets one held delivery through as the probe."""
    effects = Effects()
    channels = set(
        session.execute(select(Delivery.channel).where(Delivery.state == S.HELD).distinct()).scalars()
    )
    for channel in channels:
        st = channel_state(session, channel)
        policy = policies.get(channel, default)
        if st.paused:
            continue
        if st.breaker == B.CLOSED:
            effects.dispatch += release_held(session, channel, now)
        elif (
            st.breaker == B.OPEN
            and st.opened_at is not None
            and now - st.opened_at >= timedelta(seconds=policy.breaker.cooldown_seconds)
        ):
            probe = session.execute(
                select(Delivery.id)
                .where(Delivery.channel == channel, Delivery.state == S.HELD)
                .order_by(Delivery.id)
                .limit(1)
            ).scalar_one_or_none()
            if probe is not None:
                session.execute(
                    update(Delivery)
                    .where(Delivery.id == probe)
                    .values(state=S.QUEUED.value, next_attempt_at=now, updated_at=now)
                )
                effects.dispatch.append(probe)
    return effects


# -- ops actions ----------------------------------------------------------------------------


def pause(session: Session, channel: str, reason: str, actor: str, now: datetime | None = None) -> Effects:
    now = now or utcnow()
    effects = Effects()
    st = channel_state(session, channel, lock=True)
    if not st.paused:
        st.paused, st.pause_reason, st.updated_at = True, reason[:1000], now
        log.warning("channel %s paused: %s", channel, reason)
        audit.append(
            session, actor=actor, action=AuditAction.CHANNEL_PAUSE, reason=reason, data={"channel": channel}
        )
        _announce(session, effects, "channel.paused", {"channel": channel, "reason": reason})
    return effects


def resume(session: Session, channel: str, actor: str, now: datetime | None = None) -> Effects:
    now = now or utcnow()
    effects = Effects()
    st = channel_state(session, channel, lock=True)
    if st.paused or st.breaker != B.CLOSED:
        st.paused, st.pause_reason = False, None
        st.breaker, st.opened_at, st.probe_owner, st.consecutive_failures = B.CLOSED, None, None, 0
        st.updated_at = now
        log.warning("channel %s resumed by %s", channel, actor)
        audit.append(session, actor=actor, action=AuditAction.CHANNEL_RESUME, data={"channel": channel})
    effects.dispatch += release_held(session, channel, now)
    return effects


def replay(session: Session, delivery_id: int, actor: str, now: datetime | None = None) -> bool:
    """failed → queued with a fresh attempt budget and no adapter checkpoint (the attempt
    history stays)."""
    now = now or utcnow()
    changed = (
        _rows(
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.state == S.FAILED)
                .values(
                    state=S.QUEUED.value, attempts=0, next_attempt_at=now, last_error=None, updated_at=now
                )
            )
        )
        == 1
    )
    if changed:
        _restarted(session, delivery_id, actor, AuditAction.DELIVERY_REPLAY)
    return changed


def repush(session: Session, delivery_id: int, actor: str, now: datetime | None = None) -> bool:
    """delivered → queued: the same version sent again as a normal delivery (fresh attempt
    budget, no adapter checkpoint, so WeChat starts a new draft and publication), because
    inspection found the live copy changed or gone. Only the item's current copy on that
    channel (a newer version's delivery supersedes an older copy; it is never re-sent)."""
    now = now or utcnow()
    current = select(LiveCopy.delivery_id).where(LiveCopy.delivery_id == delivery_id).exists()
    changed = (
        _rows(
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.state == S.DELIVERED, current)
                .values(
                    state=S.QUEUED.value,
                    attempts=0,
                    next_attempt_at=now,
                    last_error=None,
                    updated_at=now,
                    dispatched_at=None,
                )
            )
        )
        == 1
    )
    if changed:
        _restarted(session, delivery_id, actor, AuditAction.DELIVERY_REPUSH)
    return changed


def _restarted(session: Session, delivery_id: int, actor: str, action: AuditAction) -> None:
    """The tail of replay and repush, once the row is queued again: a fresh start, so the
    adapter must not resume the attempt before it (WeChat would otherwise re-read the
    publication the platform refused, or the draft already published), and the audit entry
    under the item's uid."""
    clear_checkpoint(session, delivery_id)
    uid = session.execute(
        select(Item.uid).join(Delivery, Delivery.item_id == Item.id).where(Delivery.id == delivery_id)
    ).scalar_one()
    audit.append(session, actor=actor, action=action, item_uid=uid, data={"delivery": delivery_id})


def failed_ids(session: Session, channel: str, since: datetime | None, until: datetime | None) -> list[int]:
    stmt = select(Delivery.id).where(Delivery.channel == channel, Delivery.state == S.FAILED)
    if since is not None:
        stmt = stmt.where(Delivery.updated_at >= since)
    if until is not None:
        stmt = stmt.where(Delivery.updated_at <= until)
    return list(session.execute(stmt.order_by(Delivery.id)).scalars())


def mark_dispatched(session: Session, ids: list[int], now: datetime) -> None:
    """Rows another transaction holds (a claim, another dispatcher) are skipped rather than
    waited for: the mark only spares the sweeper a redundant hand-over."""
    if ids:
        session.connection().execute(_MARK_DISPATCHED, {"ids": list(ids), "now": now})


def clear_dispatched(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(dispatched_at=None))


def undispatched_due(session: Session, now: datetime, stale_after: float, limit: int = 1000) -> list[int]:
    """Due deliveries no executor holds: never handed to the broker, or handed over so long
    ago that the message must have been lost (a broker restart, a killed worker)."""
    stale = now - timedelta(seconds=stale_after)
    return list(
        session.execute(
            select(Delivery.id)
            .where(
                Delivery.state.in_(CLAIMABLE),
                Delivery.next_attempt_at <= now,
                or_(Delivery.dispatched_at.is_(None), Delivery.dispatched_at < stale),
            )
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        ).scalars()
    )


def counts_by_state(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Delivery.channel, Delivery.state, func.count()).group_by(Delivery.channel, Delivery.state)
    )
    return {(c, s): n for c, s, n in rows}


# claim_many's statement, built once (it runs for every batch a worker takes); the rows are
# locked in id order, so two claimers of overlapping batches cannot deadlock
_CLAIM = (
    update(Delivery)
    .where(
        Delivery.id.in_(
            select(Delivery.id)
            .where(Delivery.id.in_(bindparam("ids", expanding=True)))
            .order_by(Delivery.id)
            .with_for_update()
            .scalar_subquery()
        ),
        Delivery.state.in_(CLAIMABLE),
        Delivery.next_attempt_at <= bindparam("c_now"),
        _prerequisite_met(),
    )
    .values(
        state=S.SENDING.value,
        lease_owner=bindparam("c_worker"),
        lease_expires_at=bindparam("c_until"),
        attempts=Delivery.attempts + 1,
        updated_at=bindparam("c_now"),
    )
    .returning(Delivery.id)
)

# mark_dispatched's statement, built once (it runs after every approval under Celery)
_MARK_DISPATCHED = (
    update(Delivery)
    .where(
        Delivery.id.in_(
            select(Delivery.id)
            .where(Delivery.id.in_(bindparam("ids", expanding=True)))
            .order_by(Delivery.id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(dispatched_at=bindparam("now"))
)
