"""The delivery service owns the ops actions: it checks the ops role itself (whoever calls it,
API, CLI or pages) and every action it lets through leaves its audit event."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from publisher.domain.errors import NotFoundError, PermissionDeniedError, TransitionError
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.support import publish, wait_for


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime({"rss": {"enabled": True}}, threads=1)


def actions(rt: Runtime) -> list[tuple[str, str]]:
    return [(e["action"], e["actor"]) for e in rt.service.audit_events(limit=1000) if "." in e["action"]]


@pytest.mark.parametrize("who", ["editor", "reviewer", "approver"])
def test_every_ops_action_refuses_a_non_ops_actor_and_changes_nothing(
    rt: Runtime, team: Team, who: str
) -> None:
    # given a published item and a person without the ops role
    uid = publish(rt, team)
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "delivered", what="delivered")
    [delivery] = rt.service.deliveries(uid)
    person = getattr(team, who)
    before = actions(rt)
    deliveries = rt.deliveries
    # when they try each ops action, then each is refused
    for attempt in (
        lambda: deliveries.replay(person, delivery["id"]),
        lambda: deliveries.replay_failed(person, "rss"),
        lambda: deliveries.retry_now(person, "rss"),
        lambda: deliveries.pause(person, "rss", "test"),
        lambda: deliveries.resume(person, "rss"),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
    # and nothing changed: no audit event, the channel still runs
    assert actions(rt) == before
    assert rt.deliveries.channel_status("rss")["paused"] is False


def test_ops_actions_are_audited_under_the_operator(rt: Runtime, team: Team) -> None:
    status = rt.deliveries.pause(team.ops, "rss", "维护 / maintenance")
    assert status["paused"] is True and status["pause_reason"] == "维护 / maintenance"
    status, released = rt.deliveries.resume(team.ops, "rss")
    assert status["paused"] is False and released == []
    assert ("channel.pause", "ops") in actions(rt) and ("channel.resume", "ops") in actions(rt)


def test_replay_names_why_it_cannot(rt: Runtime, team: Team) -> None:
    uid = publish(rt, team)
    wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "delivered", what="delivered")
    [delivery] = rt.service.deliveries(uid)
    with pytest.raises(TransitionError) as refused:
        rt.deliveries.replay(team.ops, delivery["id"])
    assert refused.value.current_state == "delivered"
    with pytest.raises(NotFoundError):
        rt.deliveries.replay(team.ops, 10**9)
    with pytest.raises(NotFoundError):
        rt.deliveries.get(10**9)
    assert rt.deliveries.get(delivery["id"])["attempt_log"][0]["outcome"] == "success"
