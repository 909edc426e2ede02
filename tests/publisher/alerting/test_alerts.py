"""Alerts as ledger facts, told Alertmanager-style, to a real signed-webhook receiver and a
real (minimal) SMTP server, on SQLite and PostgreSQL. The alert clock is driven with explicit
times (group_wait 30 s, group_interval 300 s, repeat_interval 3600 s), so "nothing was sent
yet" is a fact about a tick at a known moment, not about a sleep."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from publisher.domain.clock import utcnow
from publisher.domain.errors import PermissionDeniedError, ValidationError
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.receiver import SECRET, Receiver, webhook_channels
from tests.support import publish, wait_for

from .support import Ops, SmtpSink

CH = "webhook.hooks"


def after(seconds: float) -> object:
    return utcnow() + timedelta(seconds=seconds)


def test_failures_are_one_signed_message_after_group_wait_with_what_ops_need(o: Ops, team: Team) -> None:
    # given three approved items whose deliveries the subscriber refuses for good
    titles = [f"关于告警测试的通知（第{i}号）" for i in range(3)]
    o.subscriber.answer(400, 422, 404)  # the first and the last refusal differ
    for t in titles:
        publish(o.rt, team, title=t)
    o.deliver_all()
    t0 = utcnow()
    # when the alert clock ticks within group_wait, nothing is told yet
    assert o.tick(t0 + timedelta(seconds=20)).notified == 0 and o.bodies() == []
    # and after group_wait one message for the group (kind, channel)
    report = o.tick(t0 + timedelta(seconds=31))
    assert (report.notified, report.sent, report.failed) == (1, 1, 0)
    [hit] = o.alerts.hits
    assert hit.signature_ok and hit.webhook_id == f"alert_{hit.body['notification']}"
    body = hit.body
    assert (body["kind"], body["channel"], body["status"], body["events"]) == (
        "delivery.failed",
        CH,
        "firing",
        3,
    )
    assert body["failed"] == 3 and "400" in body["first_error"] and "404" in body["last_error"]
    assert sorted(i["title"] for i in body["items"]) == sorted(titles)
    text = body["text"]
    assert body["title"] == f"[发布平台告警] 投递最终失败 · {CH} · 3 条"
    assert "开始于 / firing since" in text and "当前失败 / failed now: 3" in text
    assert f"首个错误 / first error: {body['first_error']}" in text
    assert f"最近错误 / last error: {body['last_error']}" in text
    assert f"publisher replay-failed {CH}" in text
    assert f"https://publisher.example.gov.cn/app/ops/failed?channel={CH}" in text
    assert all(f"《{t}》" in text for t in titles)
    # when the clock ticks again with nothing new, nothing more is sent
    assert o.tick(t0 + timedelta(seconds=120)).notified == 0 and len(o.alerts.hits) == 1


def test_groups_per_channel_and_news_waits_for_group_interval(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, alerts_rx: Receiver, team: Team
) -> None:
    # given two subscribers (two channels), both refusing
    rt = make_runtime(
        channels={**webhook_channels(subscriber.url, "a"), **webhook_channels(subscriber.url, "b")},
        executor=False,
        alerts={
            "group_wait_seconds": 30,
            "group_interval_seconds": 300,
            "webhooks": [alerts_rx.url],
            "webhook_secret": SECRET,
        },
    )
    o = Ops(rt, subscriber, alerts_rx)
    publish(rt, team, title="第一份")
    publish(rt, team, title="第二份")
    o.deliver_all()
    t0 = utcnow()
    o.tick(t0 + timedelta(seconds=31))
    # then one message per channel, each counting its own failures
    assert sorted((b["channel"], b["events"]) for b in o.bodies()) == [("webhook.a", 2), ("webhook.b", 2)]
    # when one more item fails on both channels
    publish(rt, team, title="第三份")
    o.deliver_all()
    # then it is not told before group_interval has passed since the last message
    assert o.tick(t0 + timedelta(seconds=200)).notified == 0
    report = o.tick(t0 + timedelta(seconds=332))
    assert report.notified == 2
    news = o.bodies()[2:]
    assert sorted((b["channel"], b["events"], b["new_events"]) for b in news) == [
        ("webhook.a", 3, 1),
        ("webhook.b", 3, 1),
    ]


def test_a_paused_channel_repeats_after_repeat_interval_and_resolves_on_resume(o: Ops, team: Team) -> None:
    o.rt.deliveries.pause(team.ops, CH, "升级维护")
    t0 = utcnow()
    o.tick(t0 + timedelta(seconds=31))
    [first] = o.bodies()
    assert first["kind"] == "channel.paused" and first["title"].startswith("[发布平台告警] 渠道已暂停")
    assert f"publisher channel resume {CH}" in first["text"] and "升级维护" in first["first_error"]
    # still paused: nothing within repeat_interval, then once "still firing"
    assert o.tick(t0 + timedelta(seconds=1800)).notified == 0
    o.tick(t0 + timedelta(seconds=31 + 3601))
    repeat = o.bodies()[1]
    assert repeat["repeat"] is True and repeat["title"].startswith("[发布平台仍在告警] 渠道已暂停")
    # when ops resume the channel, a resolved message follows at the next tick
    o.rt.deliveries.resume(team.ops, CH)
    o.tick(t0 + timedelta(seconds=31 + 3700))
    resolved = o.bodies()[2]
    assert resolved["status"] == "resolved" and resolved["title"].startswith("[发布平台已恢复] 渠道已暂停")
    assert "渠道已恢复 / channel resumed" in resolved["text"] and resolved["fix"] == []
    assert o.groups()[("channel.paused", CH)].status == "resolved"
    # and nothing more
    assert o.tick(t0 + timedelta(seconds=31 + 9000)).notified == 0 and len(o.bodies()) == 3


def test_failed_deliveries_resolve_when_replayed(o: Ops, team: Team) -> None:
    publish(o.rt, team, title="待重放")
    o.deliver_all()
    t0 = utcnow()
    o.tick(t0 + timedelta(seconds=31))
    assert [b["status"] for b in o.bodies()] == ["firing"]
    # a tick while they are still failed resolves nothing
    assert o.tick(t0 + timedelta(seconds=60)).resolved == 0
    assert o.rt.deliveries.replay_failed(team.ops, CH)
    o.tick(t0 + timedelta(seconds=61))
    resolved = o.bodies()[1]
    assert resolved["status"] == "resolved" and "失败投递已重放" in resolved["resolved_reason"]


def test_an_open_pause_inhibits_the_failures_it_holds_until_it_clears(o: Ops, team: Team) -> None:
    # given failures on a channel that ops then pause, all within group_wait
    publish(o.rt, team, title="被抑制的失败")
    o.deliver_all()
    o.rt.deliveries.pause(team.ops, CH, "对端故障")
    t0 = utcnow()
    o.tick(t0 + timedelta(seconds=31))
    # then only the pause is told; the failures are inhibited, not dropped
    assert [b["kind"] for b in o.bodies()] == ["channel.paused"]
    assert o.groups()[("delivery.failed", CH)].status == "firing"
    # when the channel is resumed, the pause resolves and the failures are told after group_interval
    o.rt.deliveries.resume(team.ops, CH)
    o.tick(t0 + timedelta(seconds=40))
    assert [(b["kind"], b["status"]) for b in o.bodies()] == [
        ("channel.paused", "firing"),
        ("channel.paused", "resolved"),
    ]
    o.tick(t0 + timedelta(seconds=31 + 301))
    assert [(b["kind"], b["status"]) for b in o.bodies()][2:] == [("delivery.failed", "firing")]


def test_rejected_credentials_inhibit_the_pause_they_cause(o: Ops, team: Team) -> None:
    o.subscriber.default = 401
    publish(o.rt, team, title="凭据被拒")
    o.deliver_all()
    o.tick(utcnow() + timedelta(seconds=31))
    # then one message, about the credentials, naming the fix; the pause it caused is inhibited
    [body] = o.bodies()
    assert body["kind"] == "channel.credentials_rejected"
    assert (
        "publisher config check --live" in body["text"] and f"publisher channel resume {CH}" in body["text"]
    )
    assert o.groups()[("channel.paused", CH)].status == "firing"


def test_silences_mute_a_channel_are_audited_and_refuse_bad_input(o: Ops, team: Team) -> None:
    svc = o.rt.alerts
    with pytest.raises(ValidationError) as bad:
        svc.silence(team.ops, kind="nope", channel=CH, duration=timedelta(hours=1), reason="x")
    assert [e.field for e in bad.value.errors] == ["kind"]
    with pytest.raises(ValidationError) as everything:
        svc.silence(team.ops, duration=timedelta(hours=1), reason="x")
    assert [e.field for e in everything.value.errors] == ["channel"]
    with pytest.raises(ValidationError) as forever:
        svc.silence(team.ops, channel=CH, duration=timedelta(days=31), reason="")
    assert sorted(e.field for e in forever.value.errors) == ["duration", "reason"]
    with pytest.raises(PermissionDeniedError):
        svc.silence(team.editor, channel=CH, duration=timedelta(hours=1), reason="维护")
    # given a silence on the channel
    silence = svc.silence(team.ops, channel=CH, duration=timedelta(hours=1), reason="计划内维护")
    assert silence["active"] and [s["id"] for s in svc.silences()] == [silence["id"]]
    # when the channel is paused, nothing is told while the silence holds
    o.rt.deliveries.pause(team.ops, CH, "维护")
    t0 = utcnow()
    assert o.tick(t0 + timedelta(seconds=31)).notified == 0 and o.bodies() == []
    assert [g["kind"] for g in svc.firing()] == ["channel.paused"]
    # when ops lift it while the channel is still paused, it is told at the next tick
    svc.unsilence(team.ops, silence["id"])
    with pytest.raises(Exception, match="no such silence"):
        svc.unsilence(team.ops, silence["id"])
    o.tick(t0 + timedelta(seconds=32))
    assert [b["kind"] for b in o.bodies()] == ["channel.paused"]
    # and both the silence and its lifting are in the audit log, by whom and why
    actions = [(e["action"], e["actor"]) for e in o.rt.service.audit_events(limit=20)]
    assert ("alert.silence", "ops") in actions and ("alert.unsilence", "ops") in actions


def test_a_failing_target_is_retried_with_backoff_and_attempt_rows(o: Ops, team: Team) -> None:
    # given an alert target that answers 500 twice, then 200 (retry: base 10 s, no jitter)
    o.alerts.answer(500, 500)
    o.rt.deliveries.pause(team.ops, CH, "维护")
    t0 = utcnow()
    assert o.tick(t0 + timedelta(seconds=31)).failed == 1
    [n] = o.notifications()
    assert (n.status, n.attempts) == ("pending", 1) and "500" in (n.last_error or "")
    # not before its backoff (10 s after the first failure)
    assert o.tick(t0 + timedelta(seconds=40)).failed == 0 and len(o.alerts.hits) == 1
    assert o.tick(t0 + timedelta(seconds=41.5)).failed == 1  # the second failure: next in 20 s
    assert o.tick(t0 + timedelta(seconds=60)).sent == 0
    assert o.tick(t0 + timedelta(seconds=62)).sent == 1
    [n] = o.notifications()
    assert (n.status, n.attempts) == ("sent", 3)
    assert [a.ok for a in o.attempts()] == [False, False, True]
    # every try carried the same webhook-id, so a receiver de-duplicates a retried alert
    assert len({h.webhook_id for h in o.alerts.hits}) == 1


def test_a_target_that_never_recovers_ends_failed_after_max_attempts(o: Ops, team: Team) -> None:
    o.alerts.default = 503
    o.rt.deliveries.pause(team.ops, CH, "维护")
    t0 = utcnow()
    for offset in (31, 42, 63, 104):
        o.tick(t0 + timedelta(seconds=offset))
    [n] = o.notifications()
    assert (n.status, n.attempts) == ("failed", 3) and len(o.alerts.hits) == 3


def test_email_carries_proper_headers(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, team: Team
) -> None:
    sink = SmtpSink()
    try:
        rt = make_runtime(
            channels=webhook_channels(subscriber.url),
            executor=False,
            alerts={
                "group_wait_seconds": 30,
                "email": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": sink.server_address[1],
                    "from": "publisher@example.gov.cn",
                    "to": ["ops@example.gov.cn"],
                },
            },
        )
        rt.deliveries.pause(team.ops, CH, "维护")
        rt.alerts.clock.tick(utcnow() + timedelta(seconds=31))
        [raw] = sink.messages
    finally:
        sink.shutdown()
        sink.server_close()
    assert raw["to"] == ["ops@example.gov.cn"] and raw["from"] == "publisher@example.gov.cn"
    mail = email.message_from_bytes(raw["data"], policy=email.policy.default)
    assert mail["Subject"] == f"[发布平台告警] 渠道已暂停 · {CH} · 1 条"
    assert (
        mail["Date"]
        and mail["Message-ID"].startswith("<alert_")
        and mail["Message-ID"].endswith("@example.gov.cn>")
    )
    assert mail["Auto-Submitted"] == "auto-generated" and mail["References"].startswith("<alert-group-")
    assert mail.get_content_charset() == "utf-8" and "渠道已暂停" in mail.get_content()


def test_no_target_records_the_decision_without_sending(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, team: Team
) -> None:
    rt = make_runtime(
        channels=webhook_channels(subscriber.url), executor=False, alerts={"group_wait_seconds": 1}
    )
    rt.deliveries.pause(team.ops, CH, "维护")
    rt.alerts.clock.tick(utcnow() + timedelta(seconds=2))
    [n] = rt.alerts.recent()
    assert n["status"] == "failed" and "no alert target" in n["last_error"]


def test_embedded_mode_end_to_end(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, alerts_rx: Receiver, team: Team
) -> None:
    # given the embedded executor sweeping every 0.05 s and a short group_wait
    rt = make_runtime(
        channels=webhook_channels(subscriber.url),
        alerts={
            "group_wait_seconds": 0.2,
            "webhooks": [alerts_rx.url],
            "webhook_secret": SECRET,
        },
    )
    # when an item's delivery fails for good
    publish(rt, team, title="嵌入模式告警")
    # then the executor's clock tells ops, signed, with the item's title
    wait_for(lambda: any(h.status == 200 for h in alerts_rx.hits), 10, "the alert")
    body = alerts_rx.hits[0].body
    assert alerts_rx.hits[0].signature_ok and body["kind"] == "delivery.failed"
    assert [i["title"] for i in body["items"]] == ["嵌入模式告警"]


def test_alert_sending_shows_in_the_metrics(o: Ops, team: Team) -> None:
    from prometheus_client import generate_latest

    from publisher.observe.metrics import registry_for

    o.alerts.answer(500)
    o.rt.deliveries.pause(team.ops, CH, "维护")
    t0 = utcnow()
    o.tick(t0 + timedelta(seconds=31))
    text = generate_latest(registry_for(o.rt.db, o.rt.settings)).decode()
    assert 'publisher_alert_notifications{status="pending"} 1.0' in text
    assert 'publisher_alert_send_attempts_total{outcome="error",target="webhook"} 1.0' in text
    assert f'publisher_alerts_firing{{channel="{CH}",kind="channel.paused"}} 1.0' in text
    assert "publisher_alert_clock_tick_timestamp_seconds" in text
    o.tick(t0 + timedelta(seconds=42))
    text = generate_latest(registry_for(o.rt.db, o.rt.settings)).decode()
    assert 'publisher_alert_notifications{status="sent"} 1.0' in text
    assert 'publisher_alert_send_attempts_total{outcome="ok",target="webhook"} 1.0' in text
    assert "publisher_alert_oldest_unsent_age_seconds 0.0" in text


def test_an_idle_tick_writes_nothing_but_the_stamp_is_renewed(o: Ops) -> None:
    from sqlalchemy import select

    from publisher.store.models import AlertClock

    def stamp() -> object:
        with o.rt.db.reader() as s:
            return s.execute(select(AlertClock.ticked_at)).scalar_one_or_none()

    t0 = utcnow()
    o.tick(t0)
    assert stamp() == t0  # the first tick stamps the clock
    o.tick(t0 + timedelta(seconds=10))
    assert stamp() == t0  # idle: no write
    o.tick(t0 + timedelta(seconds=16))
    assert stamp() == t0 + timedelta(seconds=16)  # the heartbeat is renewed every 15 s


def test_a_breaker_that_keeps_reopening_is_one_message_not_one_per_cooldown(
    make_runtime: Callable[..., Runtime], alerts_rx: Receiver, team: Team
) -> None:
    from tests.support import after_sweeps

    # given a subscriber that is down, a breaker with a short cooldown, and a short group_wait
    down = Receiver(default=503).start()
    try:
        rt = make_runtime(
            channels=webhook_channels(
                down.url,
                retry={"base_seconds": 0.05, "cap_seconds": 0.1, "max_attempts": 100},
                breaker={"failures": 2, "cooldown_seconds": 0.3, "min_samples": 100},
            ),
            alerts={
                "group_wait_seconds": 0.2,
                # short: were a reopening news, it would be told again within the test
                "group_interval_seconds": 0.5,
                "repeat_interval_seconds": 3600,
                "webhooks": [alerts_rx.url],
                "webhook_secret": SECRET,
            },
        )
        publish(rt, team, title="熔断告警")

        def opened() -> int:
            return sum(1 for e in rt.service.audit_events(limit=1000) if e["action"] == "breaker.open")

        # when the breaker opens and ops are told, then it probes after each cooldown, fails
        # and opens again, repeatedly, for longer than group_interval
        wait_for(lambda: any(h.body.get("kind") == "breaker.open" for h in alerts_rx.hits), 20, "the alert")
        told_at, opens = alerts_rx.hits[-1].at, opened()
        wait_for(lambda: opened() >= opens + 2 and time.time() - told_at > 1.0, 20, "the breaker reopening")
        after_sweeps(rt, 5)
    finally:
        down.stop()
    # then ops heard about the open breaker once (told it is still open only after repeat_interval)
    told = [h.body for h in alerts_rx.hits if h.body.get("kind") == "breaker.open"]
    assert len(told) == 1 and told[0]["status"] == "firing"
    assert f"publisher retry-now {CH}" in told[0]["text"]


def test_a_rolled_back_cause_records_no_alert(o: Ops) -> None:
    from sqlalchemy import func, select

    from publisher.alerting.record import record
    from publisher.store.models import AlertEvent

    with pytest.raises(RuntimeError), o.rt.db.transaction() as s:
        record(s, "inspection.at_risk", {"channel": "cms", "label": "首页"})
        raise RuntimeError("the check failed")
    with o.rt.db.transaction() as s:
        record(s, "consultation.closed", {"uid": "u1", "title": "征集"})
        record(s, "breaker.half_open", {"channel": "cms"})  # not an alerted kind: not stored
    with o.rt.db.reader() as s:
        kinds = s.execute(select(AlertEvent.kind, func.count()).group_by(AlertEvent.kind)).all()
    assert [tuple(k) for k in kinds] == [("consultation.closed", 1)]


def test_a_sweep_ticks_the_clock_only_when_something_can_be_due(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, alerts_rx: Receiver
) -> None:
    from publisher.alerting.record import record

    # given a clock that ticks after sweeps at most every 0.3 s (group_wait is longer)
    rt = make_runtime(
        channels=webhook_channels(subscriber.url),
        executor=False,
        alerts={"group_wait_seconds": 30, "tick_interval_seconds": 0.3, "webhooks": [alerts_rx.url]},
    )
    clock = rt.alerts.clock
    started = time.monotonic()
    # the first sweep ticks; the next ones within the interval, with nothing recorded, do not
    assert clock.on_sweep() is not None
    skipped = [clock.on_sweep() for _ in range(5)]
    if time.monotonic() - started < 0.3:  # a very slow machine may reach the interval
        assert skipped == [None] * 5
    # when this process records an alert, the next sweep ticks at once and folds it
    with rt.db.transaction() as s:
        record(s, "consultation.closed", {"uid": "u1", "title": "征集"})
    folded = clock.on_sweep()
    assert folded is not None and folded.folded == 1
    # and once the interval passed, a sweep ticks again with nothing recorded
    time.sleep(0.35)
    assert clock.on_sweep() is not None


def test_the_sweeps_tick_interval_is_never_longer_than_group_wait_or_group_interval(
    make_runtime: Callable[..., Runtime], subscriber: Receiver
) -> None:
    def every(**timing: float) -> float:
        rt = make_runtime(channels=webhook_channels(subscriber.url), executor=False, alerts=timing)
        return rt.alerts.clock.tick_every

    assert every(group_wait_seconds=0.2, tick_interval_seconds=5) == 0.2
    assert every(group_wait_seconds=30, group_interval_seconds=0.4, tick_interval_seconds=5) == 0.4
    assert every(group_wait_seconds=30, tick_interval_seconds=2) == 2


def test_an_idle_tick_still_sends_a_retry_that_fell_due(o: Ops, team: Team) -> None:
    # given a paused channel told, and its resolved message, both refused once by the target
    o.alerts.answer(500, 500)
    o.rt.deliveries.pause(team.ops, CH, "维护")
    t0 = utcnow()
    assert o.tick(t0 + timedelta(seconds=31)).failed == 1
    o.rt.deliveries.resume(team.ops, CH)
    assert o.tick(t0 + timedelta(seconds=32)).failed == 1
    assert o.groups()[("channel.paused", CH)].status == "resolved"
    # when the clock ticks with nothing new and nothing firing (an idle tick) after the
    # retries fell due, it still sends them
    report = o.tick(t0 + timedelta(seconds=45))
    assert report.notified == 0 and report.sent == 2
    assert [b["status"] for b in o.bodies()] == ["firing", "resolved"]


def test_compliance_alerts_say_what_is_due_and_the_fix(o: Ops, team: Team) -> None:
    from publisher.compliance import check_consultations, check_inspection
    from publisher.compliance.config import ComplianceSettings, InspectionRule
    from tests.publisher.compliance.support import at
    from tests.samples import sample

    # given a published consultation that closed on 2019-08-31, and an item delivered to the
    # channel whose home page must get something new every 14 days
    consultation = publish(o.rt, team, sample("consult-2019-01"))
    o.subscriber.default = 200
    o.deliver_all()
    rules = ComplianceSettings(inspection=(InspectionRule(CH, "*", "首页", days=14),))
    t0 = utcnow()
    # when the periodic checks run the day after the close, at 11 days (past 75 %) and at 15
    with o.rt.db.transaction() as s:
        check_consultations(s, at(2019, 9, 1))
    with o.rt.db.transaction() as s:
        check_inspection(s, o.rt.settings, t0 + timedelta(days=11), rules)
    o.tick(t0 + timedelta(seconds=31))
    with o.rt.db.transaction() as s:
        check_inspection(s, o.rt.settings, t0 + timedelta(days=15), rules)
    o.tick(t0 + timedelta(seconds=62))
    told = {b["kind"]: b for b in o.bodies()}
    assert sorted(told) == ["consultation.closed", "inspection.at_risk", "inspection.overdue"]
    # then the consultation's message names it, its close and the report's due date, and the fix
    closed = told["consultation.closed"]
    assert closed["title"] == "[发布平台告警] 意见征集已截止，待发布反馈 · 1 条"
    assert closed["items"] == [{"uid": consultation, "title": sample("consult-2019-01")["title"]}]
    assert "截止 2019-08-31" in closed["text"] and "反馈期限 2019-09-29" in closed["text"]
    assert "publisher compliance reminders" in closed["text"]
    # and a column past its threshold is overdue (已超期), never "due soon" (即将超期)
    soon, late = told["inspection.at_risk"], told["inspection.overdue"]
    assert soon["title"] == f"[发布平台告警] 栏目更新即将超期 · {CH} · 1 条"
    assert late["title"] == f"[发布平台告警] 栏目更新已超期 · {CH} · 1 条"
    assert "即将超期" not in late["text"] and "状态 已超期" in late["text"]
    assert "栏目 首页" in late["text"] and "阈值 14 天" in late["text"]
    assert all("publisher compliance inspection" in b["text"] for b in (soon, late))


def test_an_open_breaker_inhibits_its_failures_counts_the_held_and_resolves_when_it_closes(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, alerts_rx: Receiver, team: Team
) -> None:
    # given a subscriber that is down, one try per delivery, a breaker that opens after two
    # failures and probes after 4 s, and the embedded executor's clock telling ops
    subscriber.default = 503
    rt = make_runtime(
        channels=webhook_channels(
            subscriber.url,
            retry={"max_attempts": 1},
            breaker={"failures": 2, "cooldown_seconds": 4, "min_samples": 100},
        ),
        threads=1,
        alerts={
            "group_wait_seconds": 1.5,
            "group_interval_seconds": 1,
            "repeat_interval_seconds": 3600,
            "webhooks": [alerts_rx.url],
            "webhook_secret": SECRET,
        },
    )
    # when two deliveries fail for good, the breaker opens and holds the third
    for title in ("熔断前失败一", "熔断前失败二", "熔断后暂缓"):
        publish(rt, team, title=title)

    def told() -> list[tuple[str, str]]:
        return [(h.body["kind"], h.body["status"]) for h in alerts_rx.hits if h.status == 200]

    wait_for(lambda: told() != [], 20, "the first alert")
    # then ops hear of the breaker, with the held delivery counted; its failures are inhibited
    assert told() == [("breaker.open", "firing")]
    first = alerts_rx.hits[0].body
    assert (first["failed"], first["held"]) == (2, 1) and "暂缓 / held: 1" in first["text"]
    assert f"publisher retry-now {CH}" in first["text"]
    # when the subscriber recovers, the probe after the cooldown succeeds and closes the breaker
    subscriber.default = 200
    wait_for(lambda: len(told()) >= 3, 30, "the resolved message and the failures")
    # then the breaker's resolved message, and only now the failures it had inhibited
    assert told() == [
        ("breaker.open", "firing"),
        ("breaker.open", "resolved"),
        ("delivery.failed", "firing"),
    ]
    bodies = [h.body for h in alerts_rx.hits if h.status == 200]
    assert "熔断器已闭合 / breaker closed" in bodies[1]["text"]
    failed = bodies[2]
    assert failed["events"] == 2 and sorted(i["title"] for i in failed["items"]) == [
        "熔断前失败一",
        "熔断前失败二",
    ]
    assert all(h.signature_ok for h in alerts_rx.hits)


def test_alerts_are_signed_with_every_secret_during_a_rotation(
    make_runtime: Callable[..., Runtime], subscriber: Receiver, team: Team
) -> None:
    import base64

    # given two alert receivers, one still on the old secret and one already on the new one,
    # and the publisher holding both (whitespace-separated, as the channels' secrets)
    new = "whsec_" + base64.b64encode(b"the-new-alert-secret-32-bytes-ok").decode()
    old_rx, new_rx = Receiver(secret=SECRET).start(), Receiver(secret=new).start()
    try:
        rt = make_runtime(
            channels=webhook_channels(subscriber.url),
            executor=False,
            alerts={
                "group_wait_seconds": 1,
                "webhooks": [old_rx.url, new_rx.url],
                "webhook_secret": f"{SECRET} {new}",
            },
        )
        rt.deliveries.pause(team.ops, CH, "轮换密钥期间")
        rt.alerts.clock.tick(utcnow() + timedelta(seconds=2))
    finally:
        old_rx.stop()
        new_rx.stop()
    # then each receiver verifies the message with the one secret it knows
    [old_hit], [new_hit] = old_rx.hits, new_rx.hits
    assert old_hit.signature_ok and new_hit.signature_ok
    assert len(new_hit.headers["webhook-signature"].split()) == 2  # v1,<old> v1,<new>
