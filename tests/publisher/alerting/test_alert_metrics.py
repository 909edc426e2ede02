"""The alert families of `/metrics` against the truth as the alert history grows (issue 21):
messages per status and tries per target and outcome come from the maintained counts
(migration 0025's triggers), and a scrape reads no alert history — only the unsent messages
and the groups. Each value is compared with a fresh GROUP BY over the alert tables after
every episode of a history of pauses, resumes, retries and messages that end failed."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from prometheus_client import generate_latest
from sqlalchemy import case, func, select

from publisher.domain.clock import utcnow
from publisher.observe.metrics import registry_for
from publisher.store.db import Database
from publisher.store.models import AlertAttempt, AlertGroup, AlertNotification
from tests.conftest import Team, backfilled
from tests.support import on_statements

from .support import Ops

CH = "webhook.hooks"
_LINE = re.compile(r"^(publisher_alert_notifications|publisher_alert_send_attempts_total)\{(.*)\} (\S+)$")


def _scraped(o: Ops) -> dict[str, dict[tuple[str, ...], int]]:
    """The two families as a scrape shows them, without their zero values."""
    out: dict[str, dict[tuple[str, ...], int]] = {"notes": {}, "tries": {}}
    for line in generate_latest(registry_for(o.rt.db, o.rt.settings)).decode().splitlines():
        m = _LINE.match(line)
        if m is None or float(m.group(3)) == 0:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if m.group(1) == "publisher_alert_notifications":
            out["notes"][(labels["status"],)] = int(float(m.group(3)))
        else:
            out["tries"][(labels["target"], labels["outcome"])] = int(float(m.group(3)))
    return out


def _truth(db: Database) -> dict[str, dict[tuple[str, ...], int]]:
    target = case((AlertNotification.target.like("webhook:%"), "webhook"), else_=AlertNotification.target)
    with db.reader() as s:
        notes = s.execute(select(AlertNotification.status, func.count()).group_by(AlertNotification.status))
        tries = s.execute(
            select(target, AlertAttempt.ok, func.count())
            .join(AlertNotification, AlertNotification.id == AlertAttempt.notification_id)
            .group_by(target, AlertAttempt.ok)
        )
        return {
            "notes": {(status,): n for status, n in notes},
            "tries": {(str(t), "ok" if ok else "error"): n for t, ok, n in tries},
        }


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []
    with on_statements(db, lambda statement, _params: seen.append(statement)):
        yield seen


def test_the_alert_metrics_equal_the_alert_tables_as_the_history_grows(o: Ops, team: Team) -> None:
    rng = random.Random(21)
    t0 = utcnow()
    statuses: set[str] = set()
    for episode in range(6):
        # each message of the episode meets 0-3 refusals first (3 = max_attempts: it ends failed)
        o.alerts.answer(*[500] * rng.randint(0, 3))
        at = t0 + timedelta(hours=2 * episode)
        o.rt.deliveries.pause(team.ops, CH, f"维护 {episode}")
        for offset in (31, 42, 63, 104):
            o.tick(at + timedelta(seconds=offset))
        o.alerts.answer(*[503] * rng.randint(0, 3))
        o.rt.deliveries.resume(team.ops, CH)
        for offset in (400, 411, 432, 473):
            o.tick(at + timedelta(seconds=offset))
        truth = _truth(o.rt.db)
        assert _scraped(o) == truth, f"episode {episode}"
        statuses |= {s for (s,) in truth["notes"]}
    # the history this made: messages sent and failed, tries that failed and succeeded
    assert {"sent", "failed"} <= statuses
    assert set(_truth(o.rt.db)["tries"]) == {("webhook", "ok"), ("webhook", "error")}

    # a message left pending (a refusal, its retry not yet due) is counted as pending
    o.alerts.answer(500)
    later = t0 + timedelta(hours=20)
    o.rt.deliveries.pause(team.ops, CH, "再次维护")
    o.tick(later + timedelta(seconds=31))
    assert _scraped(o) == _truth(o.rt.db) and _scraped(o)["notes"][("pending",)] == 1

    # a scrape reads no alert history: no tries, and of the messages only the unsent ones
    with _statements(o.rt.db) as seen:
        generate_latest(registry_for(o.rt.db, o.rt.settings))
    assert not [s for s in seen if "alert_attempts" in s]
    notes = [s for s in seen if "FROM alert_notifications" in s]
    assert len(notes) == 1 and "alert_notifications.status IN" in notes[0], notes


def test_the_migration_counts_the_alert_history_already_there(empty_url: str) -> None:
    def seed(db: Database) -> None:
        now = utcnow()
        with db.transaction() as s:
            group = AlertGroup(
                kind="channel.paused",
                channel=CH,
                status="resolved",
                firing_since=now,
                last_event_at=now,
                events=1,
                pending=0,
                samples=[],
            )
            s.add(group)
            s.flush()
            for target, status, tries in (
                ("webhook:https://ops.example.gov.cn/a", "sent", [False, True]),
                ("webhook:https://ops.example.gov.cn/b", "failed", [False, False, False]),
                ("email", "sent", [True]),
                ("email", "pending", [False]),
                ("none", "failed", []),
            ):
                note = AlertNotification(
                    group_id=group.id,
                    kind=group.kind,
                    channel=CH,
                    state="firing",
                    target=target,
                    title="告警",
                    payload={},
                    status=status,
                    attempts=len(tries),
                    next_attempt_at=now,
                    created_at=now,
                )
                s.add(note)
                s.flush()
                s.add_all(
                    AlertAttempt(notification_id=note.id, at=now, ok=ok, duration_ms=1.0) for ok in tries
                )

    with backfilled(empty_url, "alert counts", seed) as db:
        from publisher.store import counters

        with db.reader() as s:
            kept = counters.read(s, counters.ALERT_NOTE, counters.ALERT_TRY)
        truth = _truth(db)
        assert (
            {(k,): n for k, n in kept.alert_notes.items() if n}
            == truth["notes"]
            == {
                ("sent",): 2,
                ("failed",): 2,
                ("pending",): 1,
            }
        )
        assert (
            {k: n for k, n in kept.alert_tries.items() if n}
            == truth["tries"]
            == {
                ("webhook", "ok"): 1,
                ("webhook", "error"): 4,
                ("email", "ok"): 1,
                ("email", "error"): 1,
            }
        )
        # and the triggers follow from there: a status change and a delete move the counts
        with db.transaction() as s:
            note = s.execute(
                select(AlertNotification).where(AlertNotification.status == "pending")
            ).scalar_one()
            s.add(AlertAttempt(notification_id=note.id, at=note.created_at, ok=True, duration_ms=1.0))
            note.status = "sent"
        with db.transaction() as s:
            gone = s.execute(select(AlertNotification).where(AlertNotification.target == "none")).scalar_one()
            s.delete(gone)
        with db.reader() as s:
            kept = counters.read(s, counters.ALERT_NOTE, counters.ALERT_TRY)
        assert {(k,): n for k, n in kept.alert_notes.items() if n} == _truth(db)["notes"]
        assert {k: n for k, n in kept.alert_tries.items() if n} == _truth(db)["tries"]
        assert _truth(db)["notes"] == {("sent",): 3, ("failed",): 1}
