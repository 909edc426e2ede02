"""The ledger's transitions called directly on the real store with explicit times: claims,
failures (retry, backoff, budget, hold), the breaker, the sweeps, confirmation, replay and
re-push, pause and resume. Fast enough to run against every mutant of
publisher/delivery/ledger.py (scripts/mutation.sh ledger); the engine tests prove the same
rules end to end with threads and a receiver. On both engines like the rest; the mutation
run takes the SQLite half."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from channels.base import ChannelConfigError, ChannelError, PermanentError, RateLimitedError, TransientError
from publisher.delivery import ledger
from publisher.delivery.ledger import AdapterError, AttemptInfo, Success
from publisher.delivery.policy import BreakerPolicy, ChannelPolicy, RetryPolicy
from publisher.domain.clock import utcnow
from publisher.editorial.service import Service
from publisher.store.channel_values import load_checkpoint, save_checkpoint
from publisher.store.db import Database
from publisher.store.models import AlertEvent, Attempt, AuditEvent, ChannelState, Delivery, Item, LiveCopy
from tests.conftest import Team
from tests.support import publish

W = "worker-1"
POLICY = ChannelPolicy(
    retry=RetryPolicy(max_attempts=3, base_seconds=10.0, cap_seconds=1000.0, jitter=0.0),
    breaker=BreakerPolicy(failures=3, ratio=0.5, window=4, min_samples=4, cooldown_seconds=60.0),
    lease_seconds=100.0,
    confirm_interval_seconds=7.0,
    confirm_timeout_seconds=500.0,
)
T0 = utcnow().replace(microsecond=0) + timedelta(hours=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def info(error: str | None = "boom", **more: Any) -> AttemptInfo:
    return AttemptInfo(started_at=T0, duration_ms=5.0, error=error, **more)


@dataclass
class Ledger:
    """The store and one published item's deliveries, by channel."""

    db: Database
    ids: dict[str, int]
    uid: str
    service: Service
    team: Team
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def row(self, delivery_id: int) -> Delivery:
        with self.db.reader() as s:
            d = s.get(Delivery, delivery_id)
            assert d is not None
            s.expunge(d)
            return d

    def channel(self, name: str) -> ChannelState | None:
        with self.db.reader() as s:
            st = s.get(ChannelState, name)
            if st is not None:
                s.expunge(st)
            return st

    def attempts(self, delivery_id: int) -> list[Attempt]:
        with self.db.reader() as s:
            rows = list(
                s.execute(
                    select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id)
                ).scalars()
            )
            s.expunge_all()
            return rows

    def audit(self, action: str) -> list[AuditEvent]:
        with self.db.reader() as s:
            rows = list(
                s.execute(
                    select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
                ).scalars()
            )
            s.expunge_all()
            return rows

    def alerts(self, kind: str) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return [
                e.data
                for e in s.execute(
                    select(AlertEvent).where(AlertEvent.kind == kind).order_by(AlertEvent.id)
                ).scalars()
            ]

    def set(self, delivery_id: int, **values: Any) -> None:
        with self.db.transaction() as s:
            s.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))

    def claim(self, delivery_id: int, now: datetime, worker: str = W) -> None:
        with self.db.transaction() as s:
            assert ledger.claim_many(s, [delivery_id], worker, POLICY.lease_seconds, now) == [delivery_id]

    def fail(
        self,
        delivery_id: int,
        error: ChannelError,
        now: datetime,
        *,
        text: str | None = "boom",
        worker: str = W,
    ) -> ledger.Effects:
        with self.db.transaction() as s:
            return ledger.record_failure(
                s, delivery_id, worker, info(text), error=error, policy=POLICY, now=now
            )

    def succeed(self, *successes: Success, now: datetime, worker: str = W) -> ledger.Effects:
        with self.db.transaction() as s:
            return ledger.record_successes(s, list(successes), worker, {}, POLICY, now=now)

    def another(self, channel: str) -> int:
        """The delivery on `channel` of another published item."""
        uid = publish(self.service, self.team)
        with self.db.reader() as s:
            return s.execute(
                select(Delivery.id)
                .join(Item, Item.id == Delivery.item_id)
                .where(Item.uid == uid, Delivery.channel == channel)
            ).scalar_one()

    def do(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.db.transaction() as s:
            return fn(s, *args, **kwargs)


@pytest.fixture
def lg(service: Service, db: Database, team: Team) -> Iterator[Ledger]:
    uid = publish(service, team)
    with db.reader() as s:
        ids = {d.channel: d.id for d in s.execute(select(Delivery)).scalars()}
    yield Ledger(db=db, ids=ids, uid=uid, service=service, team=team)


def names(effects: ledger.Effects) -> list[str]:
    return [name for name, _ in effects.events]


# -- claiming -----------------------------------------------------------------------------------


def test_claim_takes_due_claimable_rows_once_with_a_lease(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.set(cms, next_attempt_at=at(50))
    with lg.db.transaction() as s:
        assert ledger.claim_many(s, [], W, 100.0, at(0)) == []
        assert ledger.claim_many(s, [cms, rss], W, 100.0, at(0)) == [rss]  # cms is not due yet
    d = lg.row(rss)
    assert (d.state, d.lease_owner, d.attempts) == ("sending", W, 1)
    assert d.lease_expires_at == at(100) and d.updated_at == at(0)
    with lg.db.transaction() as s:
        assert ledger.claim_many(s, [rss], "worker-2", 100.0, at(1)) == []  # taken
        assert ledger.claim_many(s, [cms], W, 100.0, at(50)) == [cms]  # due exactly now


def test_a_held_or_failed_row_is_not_claimed_and_prerequisites_gate_claims(lg: Ledger) -> None:
    rss, cms, wechat = lg.ids["rss"], lg.ids["cms"], lg.ids["wechat"]
    lg.set(rss, state="held")
    lg.set(cms, after_delivery_id=wechat)
    lg.set(lg.another("rss"), state="delivered")  # another row done: not cms's prerequisite
    with lg.db.transaction() as s:
        assert ledger.claim_many(s, [rss, cms], W, 100.0, at(0)) == []
    for state, ok in [("sending", False), ("failed", True), ("superseded", True), ("delivered", True)]:
        lg.set(wechat, state=state)
        with lg.db.transaction() as s:
            won = ledger.claim_many(s, [cms], W, 100.0, at(0))
        assert won == ([cms] if ok else []), state
        lg.set(cms, state="queued", lease_owner=None)


def test_a_failed_prerequisite_of_another_item_blocks(lg: Ledger) -> None:
    other = publish(lg.service, lg.team)
    with lg.db.reader() as s:
        [theirs] = s.execute(
            select(Delivery.id)
            .join(Item, Item.id == Delivery.item_id)
            .where(Item.uid == other, Delivery.channel == "rss")
        ).scalars()
    rss = lg.ids["rss"]
    lg.set(rss, after_delivery_id=theirs)
    lg.set(theirs, state="failed")
    with lg.db.transaction() as s:
        assert ledger.claim_many(s, [rss], W, 100.0, at(0)) == []
    lg.set(theirs, state="delivered")
    with lg.db.transaction() as s:
        assert ledger.claim_many(s, [rss], W, 100.0, at(0)) == [rss]


def test_due_ids_oldest_first_by_channel_and_limit(lg: Ledger) -> None:
    a, b, c, d = sorted(lg.ids.values())
    lg.set(a, next_attempt_at=at(-10), state="retry_wait")
    lg.set(b, next_attempt_at=at(5))
    lg.set(c, next_attempt_at=at(-20))
    lg.set(d, next_attempt_at=at(-10))  # due with a, which has the lower id
    with lg.db.reader() as s:
        assert ledger.due_ids(s, at(0)) == [c, a, d]
        assert ledger.due_ids(s, at(5)) == [c, a, d, b]
        assert ledger.due_ids(s, at(0), limit=1) == [c]
        assert ledger.due_ids(s, at(0), channel=lg.row(d).channel) == [d]
    lg.set(a, state="held")
    with lg.db.reader() as s:
        assert ledger.due_ids(s, at(0)) == [c, d]


def test_undispatched_due_skips_rows_an_executor_holds_unless_stale(lg: Ledger) -> None:
    a, b, c, d = sorted(lg.ids.values())
    e = lg.another("rss")
    with lg.db.transaction() as s:  # the other item's rows but e are not due
        s.execute(update(Delivery).where(Delivery.id > d, Delivery.id != e).values(next_attempt_at=at(100)))
    lg.set(a, next_attempt_at=at(0), state="retry_wait")  # due exactly now, never handed over
    lg.set(b, next_attempt_at=at(-7), dispatched_at=at(-61))  # stale, and due before a
    lg.set(c, next_attempt_at=at(-5), dispatched_at=at(-1))  # fresh hand-over
    lg.set(d, next_attempt_at=at(-6), dispatched_at=at(-60))  # exactly stale_after: held
    lg.set(e, next_attempt_at=at(0))  # due with a, which has the lower id
    with lg.db.reader() as s:
        assert ledger.undispatched_due(s, at(0), 60.0) == [b, a, e]
        assert ledger.undispatched_due(s, at(0), 60.0, limit=1) == [b]
    lg.set(a, next_attempt_at=at(1))
    lg.set(e, next_attempt_at=at(1))
    lg.set(b, state="held")
    with lg.db.reader() as s:
        assert ledger.undispatched_due(s, at(0), 60.0) == []


def test_mark_and_clear_dispatched(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.do(ledger.mark_dispatched, [], at(0))
    lg.do(ledger.mark_dispatched, [rss], at(3))
    assert lg.row(rss).dispatched_at == at(3) and lg.row(cms).dispatched_at is None
    lg.do(ledger.clear_dispatched, [])
    lg.do(ledger.clear_dispatched, [rss])
    assert lg.row(rss).dispatched_at is None


# -- failures: retry, backoff, budget -----------------------------------------------------------


def test_a_transient_failure_waits_with_exponential_backoff_until_the_budget_is_spent(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    expected = [10, 20]  # base 10 s, doubling; max_attempts 3
    now = at(0)
    for n, delay in enumerate(expected, start=1):
        lg.claim(rss, now)
        lg.set(rss, dispatched_at=now)
        effects = lg.fail(rss, TransientError("503"), now, text=f"503 #{n}")
        d = lg.row(rss)
        assert (d.state, d.attempts, d.last_error) == ("retry_wait", n, f"503 #{n}")
        assert d.next_attempt_at == now + timedelta(seconds=delay)
        assert d.lease_owner is None and d.lease_expires_at is None and d.dispatched_at is None
        assert d.updated_at == now
        assert effects.events == [] and effects.dispatch == []
        now = d.next_attempt_at
    lg.claim(rss, now)
    effects = lg.fail(rss, TransientError("503"), now, text="503 #3")
    d = lg.row(rss)
    assert d.state == "failed" and d.attempts == 3
    assert d.last_error == "重试3次后仍失败 / gave up after 3 attempts: 503 #3"
    assert names(effects) == ["delivery.failed", "breaker.open"]  # and the third failure in a row
    assert effects.events[0][1] == {
        "delivery": rss,
        "channel": "rss",
        "operation": "publish",
        "item_id": d.item_id,
        "error": d.last_error,
        "attempts": 3,
    }
    assert lg.alerts("delivery.failed")[0]["delivery"] == rss
    assert [(a.number, a.outcome, a.worker, a.error) for a in lg.attempts(rss)] == [
        (1, "transient", W, "503 #1"),
        (2, "transient", W, "503 #2"),
        (3, "transient", W, "503 #3"),
    ]


def test_an_adapter_bug_is_retried_like_a_transient_error_and_counts_for_the_breaker(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    lg.fail(rss, AdapterError("KeyError"), at(0), text=None)
    d = lg.row(rss)
    assert (d.state, d.last_error, d.next_attempt_at) == ("retry_wait", "error", at(10))
    assert [a.outcome for a in lg.attempts(rss)] == ["error"]
    st = lg.channel("rss")
    assert st is not None and st.consecutive_failures == 1


def test_a_long_error_is_cut_to_1000_characters(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    lg.fail(rss, TransientError("x"), at(0), text="e" * 1500)
    assert lg.row(rss).last_error == "e" * 1000
    assert lg.attempts(rss)[0].error == "e" * 1000
    lg.set(rss, attempts=2, next_attempt_at=at(0))
    lg.claim(rss, at(0))
    lg.fail(rss, TransientError("x"), at(0), text="e" * 1500)
    gave_up = lg.row(rss).last_error
    assert gave_up is not None and len(gave_up) == 1000 and gave_up.startswith("重试3次后仍失败")


def test_a_rate_limit_waits_as_told_and_has_four_times_the_budget(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.claim(rss, at(0))
    lg.fail(rss, RateLimitedError("429", retry_after=123.0), at(0))
    d = lg.row(rss)
    assert d.state == "retry_wait" and d.next_attempt_at == at(123)
    assert [a.outcome for a in lg.attempts(rss)] == ["rate_limited"]
    # without a retry-after: the policy's backoff
    lg.claim(cms, at(0))
    lg.fail(cms, RateLimitedError("429", retry_after=None), at(0))
    assert lg.row(cms).next_attempt_at == at(10)
    # 3 × 4 = 12 attempts before giving up
    lg.set(rss, attempts=10, next_attempt_at=at(0))
    lg.claim(rss, at(0))  # the 11th
    lg.fail(rss, RateLimitedError("429", retry_after=1.0), at(0))
    assert lg.row(rss).state == "retry_wait"
    lg.claim(rss, at(1))  # the 12th
    lg.fail(rss, RateLimitedError("429", retry_after=1.0), at(1))
    assert lg.row(rss).state == "failed"


def test_a_permanent_rejection_fails_at_once_and_spares_the_breaker(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    lg.set(rss, dispatched_at=at(0))
    effects = lg.fail(rss, PermanentError("400"), at(2), text="400 bad")
    d = lg.row(rss)
    assert (d.state, d.last_error, d.attempts, d.updated_at) == ("failed", "400 bad", 1, at(2))
    assert d.lease_owner is None and d.lease_expires_at is None
    assert names(effects) == ["delivery.failed"] and effects.events[0][1]["error"] == "400 bad"
    assert lg.channel("rss") is None  # never touched: a rejection is about the content


def test_rejected_credentials_hold_the_delivery_and_pause_the_channel(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    effects = lg.fail(rss, ChannelConfigError("401"), at(2), text="401 bad token")
    d = lg.row(rss)
    assert (d.state, d.last_error) == ("held", "401 bad token")
    st = lg.channel("rss")
    assert st is not None and st.paused and st.consecutive_failures == 0 and st.updated_at == at(2)
    assert st.pause_reason == "凭据或配置被拒绝 / credentials rejected: 401 bad token"
    assert names(effects) == ["channel.paused", "channel.credentials_rejected"]
    assert effects.events[1][1] == {"channel": "rss", "error": "401 bad token"}
    [paused] = lg.audit("channel.pause")
    assert paused.actor == "system" and paused.data == {"channel": "rss"}
    assert lg.alerts("channel.credentials_rejected") == [{"channel": "rss", "error": "401 bad token"}]


def test_a_failure_reported_after_the_lease_was_lost_changes_nothing_but_the_history(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    effects = lg.fail(rss, PermanentError("400"), at(1), worker="worker-2")
    d = lg.row(rss)
    assert (d.state, d.lease_owner, d.last_error) == ("sending", W, None)
    assert effects.events == []
    assert [(a.outcome, a.worker) for a in lg.attempts(rss)] == [("permanent", "worker-2")]
    lg.set(rss, state="retry_wait")
    lg.fail(rss, PermanentError("400"), at(1))
    assert lg.row(rss).state == "retry_wait"


# -- the breaker --------------------------------------------------------------------------------


def _fail_once(
    lg: Ledger, delivery_id: int, now: datetime, error: ChannelError | None = None
) -> ledger.Effects:
    lg.set(delivery_id, state="queued", next_attempt_at=now, attempts=0)
    lg.claim(delivery_id, now)
    return lg.fail(delivery_id, error or TransientError("503"), now)


def test_consecutive_failures_open_the_breaker_at_the_threshold(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    for n in (1, 2):
        effects = _fail_once(lg, rss, at(n))
        st = lg.channel("rss")
        assert st is not None and (st.breaker, st.consecutive_failures, st.updated_at) == ("closed", n, at(n))
        assert effects.events == []
    effects = _fail_once(lg, rss, at(3))
    st = lg.channel("rss")
    assert st is not None and (st.breaker, st.opened_at, st.probe_owner) == ("open", at(3), None)
    reason = "连续失败3次 / 3 consecutive failures"
    assert effects.events == [("breaker.open", {"channel": "rss", "reason": reason})]
    [opened] = lg.audit("breaker.open")
    assert (opened.actor, opened.reason, opened.data) == ("system", reason, {"channel": "rss"})
    assert lg.alerts("breaker.open") == [{"channel": "rss", "reason": reason}]
    # an open breaker counts on but does not open again
    effects = _fail_once(lg, rss, at(4))
    st = lg.channel("rss")
    assert st is not None and st.consecutive_failures == 4 and st.opened_at == at(3) and effects.events == []


def test_the_failure_ratio_over_the_window_opens_the_breaker(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    # history on rss: success, success, failure → a 4th sample decides (window 4, ratio 0.5)
    for n in (1, 2):
        lg.set(rss, state="queued", next_attempt_at=at(n), attempts=0)
        lg.claim(rss, at(n))
        lg.succeed(Success(rss, info(None), accepted=False), now=at(n))
    # a failure on another channel does not count here
    _fail_once(lg, cms, at(2))
    effects = _fail_once(lg, rss, at(3))
    st = lg.channel("rss")
    assert st is not None and st.breaker == "closed" and effects.events == []  # 3 samples < min_samples
    # success resets the consecutive count; the ratio still sees 2 of the last 4
    lg.set(rss, state="queued", next_attempt_at=at(4), attempts=0)
    lg.claim(rss, at(4))
    lg.succeed(Success(rss, info(None), accepted=False), now=at(4))
    effects = _fail_once(lg, rss, at(5))
    st = lg.channel("rss")
    assert st is not None and st.consecutive_failures == 1
    reason = "近4次失败2次 / 2 of the last 4 attempts failed"
    assert st.breaker == "open" and effects.events == [("breaker.open", {"channel": "rss", "reason": reason})]


def test_the_ratio_below_the_threshold_keeps_the_breaker_closed(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    for n in (1, 2, 3):
        lg.set(rss, state="queued", next_attempt_at=at(n), attempts=0)
        lg.claim(rss, at(n))
        lg.succeed(Success(rss, info(None), accepted=False), now=at(n))
    _fail_once(lg, rss, at(4))  # 1 of 4
    st = lg.channel("rss")
    assert st is not None and st.breaker == "closed" and st.consecutive_failures == 1
    # a permanent rejection is not a failure of the channel, even in the ratio
    for n in (5, 6):
        _fail_once(lg, rss, at(n), PermanentError("400"))
    lg.set(rss, state="queued", next_attempt_at=at(7), attempts=0)
    lg.claim(rss, at(7))
    lg.succeed(Success(rss, info(None), accepted=False), now=at(7))
    _fail_once(lg, rss, at(8))  # last 4: permanent, permanent, success, transient → 1 of 4
    st = lg.channel("rss")
    assert st is not None and st.breaker == "closed"


def _open(lg: Ledger, channel: str, opened: datetime) -> None:
    lg.do(ledger.channel_state, channel)
    with lg.db.transaction() as s:
        s.execute(
            update(ChannelState)
            .where(ChannelState.channel == channel)
            .values(breaker="open", opened_at=opened, consecutive_failures=3)
        )


def test_gate_fast_path_paused_open_cooldown_and_the_single_probe(lg: Ledger) -> None:
    with lg.db.transaction() as s:
        assert ledger.gate(s, "rss", POLICY, W, at(0)) == (ledger.V.SEND, ledger.Effects())
    _open(lg, "rss", at(0))
    with lg.db.transaction() as s:
        verdict, effects = ledger.gate(s, "rss", POLICY, W, at(59))
    assert verdict == "held" and effects.events == []
    with lg.db.transaction() as s:
        verdict, effects = ledger.gate(s, "rss", POLICY, W, at(60))  # cooldown over, exactly
    assert verdict == "probe"
    reason = "冷却结束，发送探测 / cooldown over, probing"
    assert effects.events == [("breaker.half_open", {"channel": "rss", "reason": reason})]
    st = lg.channel("rss")
    assert st is not None and (st.breaker, st.probe_owner, st.updated_at) == ("half_open", W, at(60))
    assert [e.reason for e in lg.audit("breaker.half_open")] == [reason]
    with lg.db.transaction() as s:
        assert ledger.gate(s, "rss", POLICY, "worker-2", at(61))[0] == "held"
        assert ledger.gate(s, "rss", POLICY, W, at(61))[0] == "probe"
    # paused wins over everything
    lg.do(ledger.pause, "cms", "maintenance", "ops", at(0))
    with lg.db.transaction() as s:
        assert ledger.gate(s, "cms", POLICY, W, at(0))[0] == "held"
    # a closed breaker read through the ORM path (the row is paused=False but not clean)
    with lg.db.transaction() as s:
        s.execute(update(ChannelState).where(ChannelState.channel == "cms").values(paused=False))
        assert ledger.gate(s, "cms", POLICY, W, at(0))[0] == "send"


def test_gate_of_an_open_breaker_without_an_opening_time_holds(lg: Ledger) -> None:
    _open(lg, "rss", at(0))
    with lg.db.transaction() as s:
        s.execute(update(ChannelState).where(ChannelState.channel == "rss").values(opened_at=None))
        assert ledger.gate(s, "rss", POLICY, W, at(1000))[0] == "held"


def test_a_failed_probe_opens_again_and_a_successful_one_closes_and_releases(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    _open(lg, "rss", at(0))
    cms = lg.another("rss")
    lg.do(ledger.hold, cms, at(0))
    with lg.db.transaction() as s:
        ledger.gate(s, "rss", POLICY, W, at(60))
    lg.claim(rss, at(60))
    effects = lg.fail(rss, TransientError("503"), at(61))
    st = lg.channel("rss")
    assert st is not None and (st.breaker, st.opened_at, st.probe_owner) == ("open", at(61), None)
    assert effects.events == [("breaker.open", {"channel": "rss", "reason": "探测失败 / probe failed"})]
    with lg.db.transaction() as s:
        assert ledger.gate(s, "rss", POLICY, W, at(121))[0] == "probe"
    lg.set(rss, next_attempt_at=at(121))
    lg.claim(rss, at(121))
    dependent = lg.ids["cms"]
    lg.set(dependent, after_delivery_id=rss)
    effects = lg.succeed(Success(rss, info(None), accepted=False), now=at(122))
    st = lg.channel("rss")
    assert st is not None and (st.breaker, st.opened_at, st.probe_owner, st.consecutive_failures) == (
        "closed",
        None,
        None,
        0,
    )
    assert st.updated_at == at(122)
    assert effects.events == [("breaker.closed", {"channel": "rss", "reason": "探测成功 / probe succeeded"})]
    assert effects.dispatch == [dependent, cms]  # the probe's dependent, then the released
    held = lg.row(cms)
    assert (held.state, held.next_attempt_at, held.updated_at) == ("queued", at(122), at(122))


def test_a_success_resets_the_count_of_a_closed_breaker_without_an_event(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    _fail_once(lg, rss, at(1))
    lg.set(rss, state="queued", next_attempt_at=at(2), attempts=0)
    lg.claim(rss, at(2))
    effects = lg.succeed(Success(rss, info(None), accepted=False), now=at(2))
    st = lg.channel("rss")
    assert st is not None and st.consecutive_failures == 0 and st.updated_at == at(2)
    assert effects.events == [] and effects.dispatch == []


# -- successes ----------------------------------------------------------------------------------


def test_successes_delivered_and_accepted_in_one_batch(lg: Ledger) -> None:
    rss, cms, wechat = lg.ids["rss"], lg.ids["cms"], lg.ids["wechat"]
    for d in (rss, cms, wechat):
        lg.claim(d, at(0))
    lg.set(wechat, external_id="old-ext", url="https://old")
    lg.set(lg.ids["cityplatform"], after_delivery_id=rss)
    before = lg.row(rss).next_attempt_at
    effects = lg.succeed(
        Success(
            rss,
            info(None, http_status=200),
            accepted=False,
            external_id="e1",
            url="https://a",
            receipt={"r": 1},
        ),
        Success(cms, info(None), accepted=True, external_id="e2"),
        Success(wechat, info(None), accepted=False),
        now=at(3),
    )
    d = lg.row(rss)
    assert (d.state, d.external_id, d.url, d.receipt) == ("delivered", "e1", "https://a", {"r": 1})
    assert (d.sent_at, d.delivered_at, d.updated_at, d.next_attempt_at) == (at(3), at(3), at(3), before)
    assert d.lease_owner is None and d.lease_expires_at is None and d.last_error is None
    a = lg.row(cms)
    assert (a.state, a.external_id, a.delivered_at, a.sent_at) == ("accepted", "e2", None, at(3))
    assert a.next_attempt_at == at(10)  # confirm_interval 7 s
    w = lg.row(wechat)
    assert (w.state, w.external_id, w.url) == ("delivered", "old-ext", "https://old")
    assert effects.dispatch == [lg.ids["cityplatform"]]
    assert [(x.outcome, x.http_status, x.number, x.worker) for x in lg.attempts(rss)] == [
        ("success", 200, 1, W)
    ]
    assert [x.outcome for x in lg.attempts(cms)] == ["accepted"]
    with lg.db.reader() as s:
        live = set(s.execute(select(LiveCopy.delivery_id)).scalars())
    assert live == {rss, wechat}


def test_a_late_success_for_a_finished_row_is_history_only(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.set(rss, state="superseded", attempts=2)
    lg.set(cms, state="accepted", external_id="e", attempts=1)
    effects = lg.succeed(
        Success(rss, info(None), accepted=False),
        Success(cms, info(None), accepted=True, external_id="x"),
        now=at(1),
    )
    assert lg.row(rss).state == "superseded" and lg.row(cms).external_id == "e"
    assert [(a.number, a.outcome) for a in lg.attempts(rss)] == [(2, "success")]
    assert effects.dispatch == [] and lg.succeed(now=at(1)).events == []
    # an accepted row confirmed by a plain success is delivered
    lg.succeed(Success(cms, info(None), accepted=False), now=at(2))
    assert lg.row(cms).state == "delivered"


def test_a_finished_row_in_a_batch_spares_the_rows_after_it_and_each_channel_has_its_interval(
    lg: Ledger,
) -> None:
    done, sending, accepted = sorted(lg.ids.values())[:3]
    lg.set(done, state="delivered")
    lg.claim(sending, at(0))
    lg.claim(accepted, at(0))
    channel = lg.row(accepted).channel
    slow = replace(POLICY, confirm_interval_seconds=30.0)
    with lg.db.transaction() as s:
        ledger.record_successes(
            s,
            [
                Success(done, info(None), accepted=False),
                Success(sending, info(None), accepted=False),
                Success(accepted, info(None), accepted=True),
            ],
            W,
            {channel: slow},
            POLICY,
            now=at(1),
        )
    assert (lg.row(done).state, lg.row(sending).state) == ("delivered", "delivered")
    a = lg.row(accepted)
    assert (a.state, a.next_attempt_at) == ("accepted", at(31))  # its channel's 30 s, not the default 7


def test_attempt_rows_keep_every_field_cut_to_1000(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    full = AttemptInfo(
        started_at=at(-1),
        duration_ms=12.5,
        http_status=503,
        provider_code="45009",
        error="x" * 1200,
        response_excerpt="y" * 1200,
    )
    with lg.db.transaction() as s:
        ledger.record_failure(s, rss, W, full, error=TransientError("503"), policy=POLICY, now=at(0))
    [a] = lg.attempts(rss)
    assert (a.started_at, a.duration_ms, a.http_status, a.provider_code) == (at(-1), 12.5, 503, "45009")
    assert a.error == "x" * 1000 and a.response_excerpt == "y" * 1000
    lg.claim(lg.ids["cms"], at(0))
    empty = AttemptInfo(started_at=at(-1), duration_ms=1.0, error="", response_excerpt="")
    lg.succeed(Success(lg.ids["cms"], empty, accepted=False), now=at(0))
    [b] = lg.attempts(lg.ids["cms"])
    assert b.error is None and b.response_excerpt is None and b.http_status is None


# -- confirmation -------------------------------------------------------------------------------


def _accepted(lg: Ledger, delivery_id: int, sent: datetime) -> None:
    lg.claim(delivery_id, sent)
    lg.succeed(Success(delivery_id, info(None), accepted=True, external_id="ext", url="https://u0"), now=sent)


def confirm(lg: Ledger, delivery_id: int, now: datetime, **kw: Any) -> ledger.Effects:
    args: dict[str, Any] = {"delivered": None, "url": None, "error": None, "flag": None} | kw
    with lg.db.transaction() as s:
        return ledger.record_confirmation(s, delivery_id, policy=POLICY, now=now, **args)


def test_confirmation_delivers_with_the_url_and_releases_dependents(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    _accepted(lg, rss, at(0))
    lg.set(cms, after_delivery_id=rss)
    lg.set(lg.ids["cityplatform"], after_delivery_id=rss, state="superseded")  # nothing to send
    effects = confirm(lg, rss, at(20), delivered=True, url="https://live")
    d = lg.row(rss)
    assert (d.state, d.delivered_at, d.url, d.updated_at) == ("delivered", at(20), "https://live", at(20))
    assert effects.dispatch == [cms] and effects.events == []
    with lg.db.reader() as s:
        assert list(s.execute(select(LiveCopy.delivery_id)).scalars()) == [rss]
    # without a url the one from acceptance stays
    wechat = lg.ids["wechat"]
    _accepted(lg, wechat, at(0))
    confirm(lg, wechat, at(20), delivered=True)
    assert lg.row(wechat).url == "https://u0"


def test_pending_confirmation_is_asked_again_until_the_timeout(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    _accepted(lg, rss, at(0))
    effects = confirm(lg, rss, at(500))  # exactly the timeout: not yet
    d = lg.row(rss)
    assert (d.state, d.next_attempt_at, d.updated_at) == ("accepted", at(507), at(500))
    assert effects.events == []
    effects = confirm(lg, rss, at(501))
    d = lg.row(rss)
    assert (
        d.state == "failed" and d.last_error == "渠道长时间未确认 / no confirmation from the channel in time"
    )
    assert names(effects) == ["delivery.failed"] and effects.events[0][1]["error"] == d.last_error
    # an accepted row without a send time waits on
    cms = lg.ids["cms"]
    _accepted(lg, cms, at(0))
    lg.set(cms, sent_at=None)
    confirm(lg, cms, at(10_000))
    assert lg.row(cms).state == "accepted"


def test_a_rejection_fails_with_its_reason_and_a_flag_is_audited_in_any_state(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    _accepted(lg, rss, at(0))
    effects = confirm(lg, rss, at(5), delivered=False, error="r" * 1100)
    assert lg.row(rss).state == "failed" and lg.row(rss).last_error == "r" * 1000
    assert names(effects) == ["delivery.failed"]
    _accepted(lg, cms, at(0))
    confirm(lg, cms, at(5), delivered=False)
    assert lg.row(cms).last_error == "渠道拒绝 / rejected by the channel"
    # a flag on a delivered row: audited and announced, the row unchanged
    effects = confirm(lg, rss, at(6), delivered=True, flag="deleted by the platform")
    assert lg.row(rss).state == "failed" and lg.row(rss).updated_at == at(5)
    [flag] = lg.audit("channel.flag")
    assert (flag.actor, flag.reason, flag.data) == (
        "system",
        "deleted by the platform",
        {"channel": "rss", "delivery": rss},
    )
    assert names(effects) == ["item.flagged"] and effects.events[0][1]["flag"] == "deleted by the platform"
    assert effects.events[0][1]["delivery"] == rss


def test_accepted_due_and_the_provider_id_lookups(lg: Ledger) -> None:
    rss, cms, wechat = lg.ids["rss"], lg.ids["cms"], lg.another("rss")
    _accepted(lg, cms, at(0))  # next at 7
    _accepted(lg, rss, at(-3))  # next at 4
    _accepted(lg, wechat, at(0))
    lg.set(wechat, next_attempt_at=at(8))
    with lg.db.reader() as s:
        assert ledger.accepted_due(s, at(7)) == [rss, cms]
        assert ledger.accepted_due(s, at(7), limit=1) == [rss]
        assert ledger.accepted_due(s, at(3)) == []
        assert ledger.find_accepted(s, "rss", "ext") == wechat  # the newest
        assert ledger.find_accepted(s, "rss", "nope") is None
        assert ledger.find_accepted(s, "cms", "ext") == cms
    lg.set(wechat, state="delivered")
    with lg.db.reader() as s:
        assert ledger.find_accepted(s, "rss", "ext") == rss
        assert ledger.find_external(s, "rss", "ext") == wechat
        assert ledger.find_external(s, "cms", "ext") == cms
        assert ledger.find_external(s, "wechat", "ext") is None
        assert ledger.find_external(s, "rss", "other") is None


# -- sweeps -------------------------------------------------------------------------------------


def test_an_expired_lease_is_retried_now_with_a_lost_attempt(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.claim(rss, at(0))  # lease until 100
    lg.claim(cms, at(50))  # lease until 150
    lg.set(rss, dispatched_at=at(0))
    lg.another("rss")  # a later delivery of another item on the channel: no reason to supersede
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(s, at(100), {}, POLICY)  # not expired at exactly 100
    assert effects.dispatch == []
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(s, at(101), {}, POLICY)
    assert effects.dispatch == [rss] and effects.events == []
    d = lg.row(rss)
    assert (d.state, d.next_attempt_at, d.updated_at, d.dispatched_at) == (
        "retry_wait",
        at(101),
        at(101),
        None,
    )
    assert d.lease_owner is None and d.lease_expires_at is None
    assert d.last_error == "工作进程中断，租约过期 / worker lost, lease expired"
    [a] = lg.attempts(rss)
    assert (a.outcome, a.worker, a.number, a.started_at, a.duration_ms) == ("lost", W, 1, at(0), 101_000.0)
    assert a.error == d.last_error
    assert lg.row(cms).state == "sending"


def test_an_expired_lease_past_twice_the_budget_fails(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.set(rss, attempts=5)
    lg.claim(rss, at(0))  # the 6th = 3 × 2
    lg.set(cms, attempts=4)
    lg.claim(cms, at(0))  # the 5th
    lg.set(cms, lease_owner=None)
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(
            s, at(101), {"cms": POLICY}, ChannelPolicy(RetryPolicy(max_attempts=1), BreakerPolicy())
        )
    assert lg.row(rss).state == "failed" and names(effects) == ["delivery.failed"]  # default policy: 1 × 2
    assert lg.row(cms).state == "retry_wait" and effects.dispatch == [cms]  # its own policy: 3 × 2
    assert [a.worker for a in lg.attempts(cms)] == ["?"]


def _newer(lg: Ledger, delivery_id: int) -> int:
    """A later delivery (a withdrawal, queued) of the same item on the same channel, waiting
    for `delivery_id`."""
    with lg.db.transaction() as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        newer = Delivery(
            item_id=d.item_id,
            version_id=d.version_id,
            channel=d.channel,
            operation="withdraw",
            state="queued",
            key=f"newer-{delivery_id}",
            attempts=0,
            next_attempt_at=at(0),
            after_delivery_id=delivery_id,
            created_at=at(0),
            updated_at=at(0),
        )
        s.add(newer)
        s.flush()
        return newer.id


def test_an_expired_lease_with_a_newer_delivery_is_superseded(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    newer_id = _newer(lg, rss)
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(s, at(101), {}, POLICY)
    d = lg.row(rss)
    assert (d.state, d.updated_at, d.lease_owner, d.lease_expires_at) == ("superseded", at(101), None, None)
    assert d.last_error == "工作进程中断；已有更新的投递 / worker lost; a newer delivery follows"
    assert effects.dispatch == [newer_id]
    [a] = lg.attempts(rss)
    assert (a.outcome, a.error, a.duration_ms, a.worker) == ("lost", d.last_error, 101_000.0, W)
    # a superseded newer one does not count
    lg.set(rss, state="sending", lease_expires_at=at(0))
    lg.set(newer_id, state="superseded")
    with lg.db.transaction() as s:
        ledger.reclaim_expired(s, at(101), {}, POLICY)
    assert lg.row(rss).state == "retry_wait"


def test_one_sweep_takes_every_expired_lease_in_turn(lg: Ledger) -> None:
    """A superseded row between two retried ones: the sweep goes on past it, and its effects
    dispatch all of them (the retried rows and the newer delivery the superseded one frees).
    Only `sending` rows are swept, whatever lease another row still carries."""
    first = lg.ids["rss"]
    middle = lg.another("rss")
    last = lg.another("rss")
    # claimed newest first, the newest due first: neither PostgreSQL's heap nor its index order
    # is the id order
    for n, d in enumerate((last, middle, first)):
        lg.set(d, next_attempt_at=at(n - 3))
        lg.claim(d, at(0))
    lg.set(middle, lease_owner=None)
    newer = _newer(lg, middle)
    lg.set(lg.ids["cms"], state="delivered", lease_expires_at=at(0))
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(s, at(101), {}, POLICY)
    assert effects.dispatch == [first, newer, last]
    assert [lg.row(d).state for d in (first, middle, last)] == ["retry_wait", "superseded", "retry_wait"]
    assert [a.worker for a in lg.attempts(middle)] == ["?"]
    assert lg.row(lg.ids["cms"]).state == "delivered" and lg.attempts(lg.ids["cms"]) == []


def test_an_expired_lease_fails_at_exactly_twice_the_budget(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    lg.set(rss, attempts=5)
    lg.claim(rss, at(0))  # the 6th = 3 × 2
    lg.set(cms, attempts=4)
    lg.claim(cms, at(0))  # the 5th
    with lg.db.transaction() as s:
        effects = ledger.reclaim_expired(s, at(101), {}, POLICY)
    assert (lg.row(rss).state, lg.row(cms).state) == ("failed", "retry_wait")
    assert names(effects) == ["delivery.failed"] and effects.dispatch == [cms]


def test_reopen_gates_releases_every_closed_channel_and_probes_only_a_held_row_of_its_own(
    lg: Ledger,
) -> None:
    """Two closed channels released in one sweep; the open channel's probe is its own held
    row, not an older held row of a paused channel nor an older row of its own in another
    state."""
    rss, city, wechat, cms = (lg.ids[c] for c in ("rss", "cityplatform", "wechat", "cms"))
    held_cms = lg.another("cms")  # newer than every row of the first item
    for d in (rss, city, wechat, held_cms):
        lg.do(ledger.hold, d, at(0))
    lg.set(cms, state="delivered")
    lg.do(ledger.pause, "wechat", "x", "ops", at(0))
    _open(lg, "cms", at(0))
    with lg.db.transaction() as s:
        effects = ledger.reopen_gates(s, at(60), {}, POLICY)
    assert sorted(effects.dispatch) == sorted([rss, city, held_cms])
    assert [lg.row(d).state for d in (rss, city, held_cms)] == ["queued"] * 3
    assert (lg.row(wechat).state, lg.row(cms).state) == ("held", "delivered")


def test_reopen_gates_releases_closed_channels_and_lets_one_probe_through(lg: Ledger) -> None:
    ids = dict(lg.ids, wechat=lg.another("cms"))  # two held rows on cms
    for ch in ids:
        lg.do(ledger.hold, ids[ch], at(0))
    lg.do(ledger.channel_state, "rss")
    _open(lg, "cms", at(0))
    lg.do(ledger.pause, "cityplatform", "x", "ops", at(0))
    with lg.db.transaction() as s:
        effects = ledger.reopen_gates(s, at(59), {"cms": POLICY}, POLICY)
    assert effects.dispatch == [ids["rss"]] and effects.events == []
    assert lg.row(ids["rss"]).state == "queued" and lg.row(ids["rss"]).next_attempt_at == at(59)
    assert lg.row(ids["cms"]).state == "held"
    with lg.db.transaction() as s:
        effects = ledger.reopen_gates(
            s, at(60), {"cms": POLICY}, ChannelPolicy(RetryPolicy(), BreakerPolicy(cooldown_seconds=1e6))
        )
    probe = min(ids["cms"], ids["wechat"])
    assert effects.dispatch == [probe]
    p = lg.row(probe)
    assert (p.state, p.next_attempt_at, p.updated_at) == ("queued", at(60), at(60))
    assert lg.row(max(ids["cms"], ids["wechat"])).state == "held"
    assert lg.row(ids["cityplatform"]).state == "held"
    # a channel whose cooldown is governed by the default policy
    with lg.db.transaction() as s:
        effects = ledger.reopen_gates(
            s, at(60), {}, ChannelPolicy(RetryPolicy(), BreakerPolicy(cooldown_seconds=1e6))
        )
    assert effects.dispatch == []


def test_reopen_gates_does_not_probe_an_open_breaker_without_an_opening_time(lg: Ledger) -> None:
    cms = lg.ids["cms"]
    lg.do(ledger.hold, cms, at(0))
    _open(lg, "cms", at(0))
    with lg.db.transaction() as s:
        s.execute(update(ChannelState).where(ChannelState.channel == "cms").values(opened_at=None))
        assert ledger.reopen_gates(s, at(1000), {}, POLICY).dispatch == []
    with lg.db.transaction() as s:
        s.execute(update(ChannelState).where(ChannelState.channel == "cms").values(breaker="half_open"))
        assert ledger.reopen_gates(s, at(1000), {}, POLICY).dispatch == []


def test_hold_takes_only_waiting_rows(lg: Ledger) -> None:
    rss, cms, wechat = lg.ids["rss"], lg.ids["cms"], lg.ids["wechat"]
    lg.set(cms, state="retry_wait")
    lg.set(wechat, state="sending")
    assert lg.do(ledger.hold, rss, at(2)) and lg.do(ledger.hold, cms, at(2))
    assert not lg.do(ledger.hold, wechat, at(2))
    assert lg.row(rss).state == "held" and lg.row(rss).updated_at == at(2)
    assert lg.row(wechat).state == "sending"


# -- ops actions --------------------------------------------------------------------------------


def test_pause_once_and_resume_resets_the_breaker_and_releases(
    lg: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="publisher.delivery.ledger")
    rss = lg.ids["rss"]
    effects = lg.do(ledger.pause, "rss", "p" * 1200, "ops", at(1))
    st = lg.channel("rss")
    assert st is not None and st.paused and st.pause_reason == "p" * 1000 and st.updated_at == at(1)
    assert effects.events == [("channel.paused", {"channel": "rss", "reason": "p" * 1200})]
    [paused] = lg.audit("channel.pause")
    assert (paused.actor, paused.reason, paused.data) == ("ops", "p" * 1200, {"channel": "rss"})
    assert lg.do(ledger.pause, "rss", "again", "ops", at(2)).events == []
    assert len(lg.audit("channel.pause")) == 1 and lg.channel("rss").pause_reason == "p" * 1000  # type: ignore[union-attr]
    lg.do(ledger.hold, rss, at(2))
    with lg.db.transaction() as s:
        s.execute(
            update(ChannelState)
            .where(ChannelState.channel == "rss")
            .values(breaker="open", opened_at=at(1), probe_owner="w", consecutive_failures=4)
        )
    effects = lg.do(ledger.resume, "rss", "ops", at(3))
    st = lg.channel("rss")
    assert st is not None
    assert (
        st.paused,
        st.pause_reason,
        st.breaker,
        st.opened_at,
        st.probe_owner,
        st.consecutive_failures,
    ) == (
        False,
        None,
        "closed",
        None,
        None,
        0,
    )
    assert st.updated_at == at(3)
    assert effects.dispatch == [rss] and lg.row(rss).state == "queued"
    assert caplog.messages == ["channel rss paused: " + "p" * 1200, "channel rss resumed by ops"]
    [resumed] = lg.audit("channel.resume")
    assert (resumed.actor, resumed.data) == ("ops", {"channel": "rss"})
    # resuming a channel that is neither paused nor open only releases
    effects = lg.do(ledger.resume, "rss", "ops", at(4))
    assert len(lg.audit("channel.resume")) == 1 and lg.channel("rss").updated_at == at(3)  # type: ignore[union-attr]


def test_resume_of_an_open_breaker_alone(lg: Ledger) -> None:
    _open(lg, "rss", at(0))
    lg.do(ledger.resume, "rss", "ops", at(5))
    st = lg.channel("rss")
    assert st is not None and st.breaker == "closed" and st.consecutive_failures == 0
    assert len(lg.audit("channel.resume")) == 1


def test_expedite_makes_waiting_retries_due_now(lg: Ledger) -> None:
    rss, cms, wechat = lg.ids["rss"], lg.ids["cms"], lg.another("rss")
    lg.set(rss, state="retry_wait", next_attempt_at=at(500), dispatched_at=at(0))
    lg.set(wechat, state="retry_wait", next_attempt_at=at(500))
    lg.set(cms, state="retry_wait", next_attempt_at=at(500))
    assert lg.do(ledger.expedite, "rss", "ops", at(7)) == sorted([rss, wechat])
    d = lg.row(rss)
    assert (d.next_attempt_at, d.dispatched_at, d.updated_at) == (at(7), None, at(7))
    assert lg.row(cms).next_attempt_at == at(500)
    [e] = lg.audit("channel.retry_now")
    assert (e.actor, e.data) == ("ops", {"channel": "rss", "count": 2})
    assert lg.do(ledger.expedite, "wechat", "ops", at(7)) == []
    assert len(lg.audit("channel.retry_now")) == 1


def test_replay_starts_a_failed_delivery_afresh(lg: Ledger) -> None:
    rss, cms, other = lg.ids["rss"], lg.ids["cms"], lg.ids["wechat"]
    lg.set(rss, state="failed", attempts=5, last_error="x", dispatched_at=at(0))
    lg.set(other, state="failed", attempts=5)
    with lg.db.transaction() as s:
        key = s.get(Delivery, rss).key  # type: ignore[union-attr]
        save_checkpoint(s.connection(), key, {"step": 2}, at(0))
    assert lg.do(ledger.replay, rss, "ops", at(9))
    d = lg.row(rss)
    assert (d.state, d.attempts, d.next_attempt_at, d.last_error, d.updated_at) == (
        "queued",
        0,
        at(9),
        None,
        at(9),
    )
    with lg.db.reader() as s:
        assert load_checkpoint(s.connection(), key) == {}
    [e] = lg.audit("delivery.replay")
    assert (e.actor, e.item_uid, e.data) == ("ops", lg.uid, {"delivery": rss})
    assert lg.row(other).state == "failed"  # only the one replayed
    assert not lg.do(ledger.replay, rss, "ops", at(10))  # not failed any more
    assert not lg.do(ledger.replay, cms, "ops", at(10))
    assert len(lg.audit("delivery.replay")) == 1


def test_repush_sends_the_current_copy_again(lg: Ledger) -> None:
    rss, cms = lg.ids["rss"], lg.ids["cms"]
    for d in (rss, cms):
        lg.claim(d, at(0))
    lg.succeed(Success(rss, info(None), accepted=False), Success(cms, info(None), accepted=False), now=at(1))
    with lg.db.transaction() as s:
        key = s.get(Delivery, rss).key  # type: ignore[union-attr]
        save_checkpoint(s.connection(), key, {"draft": "m1"}, at(0))
        s.execute(update(Delivery).where(Delivery.id == rss).values(dispatched_at=at(1), last_error="e"))
        s.execute(LiveCopy.__table__.delete().where(LiveCopy.delivery_id == cms))
    assert lg.do(ledger.repush, rss, "ops", at(9))
    d = lg.row(rss)
    assert (d.state, d.attempts, d.next_attempt_at, d.last_error, d.updated_at, d.dispatched_at) == (
        "queued",
        0,
        at(9),
        None,
        at(9),
        None,
    )
    with lg.db.reader() as s:
        assert load_checkpoint(s.connection(), key) == {}
    [e] = lg.audit("delivery.repush")
    assert (e.actor, e.item_uid, e.data) == ("ops", lg.uid, {"delivery": rss})
    assert not lg.do(ledger.repush, rss, "ops", at(10))  # not delivered now
    assert not lg.do(ledger.repush, cms, "ops", at(10))  # delivered but not the current copy
    assert lg.row(cms).state == "delivered"
    assert len(lg.audit("delivery.repush")) == 1


# -- reads --------------------------------------------------------------------------------------


def test_failed_ids_between_times_and_counts_by_state(lg: Ledger) -> None:
    ids = dict(lg.ids, cms=lg.another("rss"), wechat=lg.another("rss"))
    lg.set(ids["rss"], state="failed", updated_at=at(10))
    lg.set(ids["cms"], state="failed", updated_at=at(20))
    lg.set(ids["wechat"], state="failed", updated_at=at(30))
    lg.set(ids["cityplatform"], state="failed", updated_at=at(20))
    lg.set(lg.another("rss"), updated_at=at(20))  # queued, in the time range: not failed
    with lg.db.reader() as s:
        assert ledger.failed_ids(s, "rss", None, None) == [ids["rss"], ids["cms"], ids["wechat"]]
        assert ledger.failed_ids(s, "rss", at(20), None) == [ids["cms"], ids["wechat"]]
        assert ledger.failed_ids(s, "rss", None, at(20)) == [ids["rss"], ids["cms"]]
        assert ledger.failed_ids(s, "rss", at(20), at(20)) == [ids["cms"]]
        assert ledger.counts_by_state(s) == {
            ("rss", "failed"): 3,
            ("rss", "queued"): 1,
            ("cms", "queued"): 4,
            ("wechat", "queued"): 4,
            ("cityplatform", "queued"): 3,
            ("cityplatform", "failed"): 1,
        }


def test_effects_merge_adds_to_what_is_there() -> None:
    effects = ledger.Effects(dispatch=[1], events=[("a", {"n": 1})])
    merged = effects.merge(ledger.Effects(dispatch=[2], events=[("b", {"n": 2})]))
    assert merged is effects
    assert (effects.dispatch, effects.events) == ([1, 2], [("a", {"n": 1}), ("b", {"n": 2})])


def test_channel_state_is_created_once_closed(lg: Ledger) -> None:
    with lg.db.transaction() as s:
        st = ledger.channel_state(s, "new")
        assert (st.paused, st.breaker, st.consecutive_failures) == (False, "closed", 0)
        assert ledger.channel_state(s, "new", lock=True) is st
    with lg.db.reader() as s:
        assert s.execute(select(ChannelState.channel)).scalars().all() == ["new"]


@pytest.mark.parametrize(
    "error",
    [TransientError("t"), RateLimitedError("r", retry_after=None), AdapterError("a")],
)
def test_every_channel_failure_counts_for_the_breaker(lg: Ledger, error: ChannelError) -> None:
    rss = lg.ids["rss"]
    lg.claim(rss, at(0))
    lg.fail(rss, error, at(0))
    st = lg.channel("rss")
    assert st is not None and st.consecutive_failures == 1


def test_the_probe_is_taken_on_its_own_channel_only(lg: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    _open(lg, "rss", at(0))
    _open(lg, "cms", at(0))
    with caplog.at_level("WARNING", logger="publisher.delivery.ledger"):
        with lg.db.transaction() as s:
            assert ledger.gate(s, "rss", POLICY, W, at(60))[0] == "probe"
    cms = lg.channel("cms")
    assert cms is not None and (cms.breaker, cms.probe_owner) == ("open", None)
    assert "channel rss breaker -> half_open: 冷却结束，发送探测 / cooldown over, probing" in caplog.messages


def test_a_success_on_a_clean_channel_writes_nothing_to_it(lg: Ledger) -> None:
    rss = lg.ids["rss"]
    lg.do(ledger.channel_state, "rss")
    created = lg.channel("rss")
    assert created is not None
    lg.claim(rss, at(0))
    lg.succeed(Success(rss, info(None), accepted=False), now=at(5))
    st = lg.channel("rss")
    assert st is not None and st.updated_at == created.updated_at
