"""Audit actions: the stored values never move, and a string that is no action is refused
before it reaches the chain."""

from __future__ import annotations

import pytest

from publisher.domain.actions import AuditAction
from publisher.domain.item import Breaker
from publisher.editorial import audit
from publisher.editorial.auditsearch import ACTION_LABELS

# What the audit_events table already holds: changing one of these orphans stored events
# (the maker-checker rule, the pause banner and the digest's once-a-day check read them).
STORED = {
    "create", "edit", "import-index-no", "submit", "review", "reject", "approve", "release",
    "withdraw", "validity", "image.upload", "delivery.replay", "delivery.release",
    "delivery.exclude", "delivery.drift", "delivery.drift_accept", "delivery.repush", "channel.pause", "channel.resume", "channel.retry_now", "channel.flag",
    "channel.digest", "channel.digest_failed", "breaker.closed", "breaker.open",
    "breaker.half_open", "check.accept", "check.word.add", "check.word.remove",
    "check.person.add", "check.person.remove", "user.add", "user.enable", "user.disable",
    "user.role", "user.token", "user.password", "login.throttled", "alert.silence",
    "alert.unsilence", "annual_report.edit", "record application", "convert application",
    "draft adoption report", "audit.seal", "audit.rekey",
}  # fmt: skip


def test_the_stored_values_are_the_enums_values() -> None:
    assert {a.value for a in AuditAction} == STORED


def test_a_breaker_state_names_its_event() -> None:
    assert [AuditAction.breaker(b) for b in Breaker] == [f"breaker.{b.value}" for b in Breaker]


def test_the_audit_search_labels_every_action_and_only_actions() -> None:
    # an unlabelled action shows raw on the audit page and its filter refuses it
    assert set(ACTION_LABELS) == set(AuditAction)
    assert len(set(ACTION_LABELS.values())) == len(ACTION_LABELS)  # no two read the same


def test_an_event_is_stored_with_the_plain_value_and_an_unknown_action_is_refused() -> None:
    params = audit.event_params(actor="a", action=AuditAction.APPROVE)
    assert type(params["action"]) is str and params["action"] == "approve"
    with pytest.raises(ValueError):
        audit.event_params(actor="a", action="aprove")  # type: ignore[arg-type]
