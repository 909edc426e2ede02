"""The ops alerts page: firing groups and recent messages; ops silence a channel and lift the
silence (audited); an editor sees the page but may not silence; a bad form is refused."""

from __future__ import annotations

from datetime import timedelta

from publisher.domain.clock import utcnow
from tests.publisher.web.pages.conftest import Site, flashes, post


def test_firing_recent_and_silences_through_the_page(site: Site) -> None:
    rt = site.runtime
    ops = site.login("ops")
    # given a paused channel whose alert was decided (no target: recorded as not sent)
    assert (
        post(
            ops, "/app/ops/channels/webhook.hooks/pause", {"reason": "对端维护", "confirm": "yes"}, "/app/ops"
        ).status_code
        == 303
    )
    rt.alerts.clock.tick(utcnow() + timedelta(seconds=31))
    html = ops.get("/app/ops/alerts").text
    firing = html.split('id="firing"')[1].split("</table>")[0]
    assert 'data-kind="channel.paused" data-channel="webhook.hooks"' in firing and "对端维护" in firing
    recent = html.split('id="recent"')[1].split("</table>")[0]
    assert "[发布平台告警] 渠道已暂停 · webhook.hooks" in recent and 'data-status="failed"' in recent
    assert "<script>" not in html  # scripts only from static files (CSP)

    # an editor sees the page without the forms, and a forged post is refused
    editor = site.login("editor")
    assert 'id="silence-form"' not in editor.get("/app/ops/alerts").text
    r = post(
        editor,
        "/app/ops/alerts/silence",
        {"channel": "webhook.hooks", "duration": "2h", "reason": "x"},
        "/app/ops/alerts",
    )
    assert r.status_code == 303 and rt.alerts.silences() == []
    assert any("ops" in f for f in flashes(editor.get("/app/ops/alerts").text))

    # a silence without a reason is refused, naming the field
    post(
        ops,
        "/app/ops/alerts/silence",
        {"channel": "webhook.hooks", "duration": "2h", "reason": " "},
        "/app/ops/alerts",
    )
    assert any("reason" in f for f in flashes(ops.get("/app/ops/alerts").text)) and rt.alerts.silences() == []
    # ops silence the channel for two hours, then lift it
    r = post(
        ops,
        "/app/ops/alerts/silence",
        {"kind": "*", "channel": "webhook.hooks", "duration": "2h", "reason": "计划维护"},
        "/app/ops/alerts",
    )
    assert r.status_code == 303
    [silence] = rt.alerts.silences()
    assert silence["channel"] == "webhook.hooks" and silence["created_by"] == "ops"
    page = ops.get("/app/ops/alerts").text
    assert f'data-silence="{silence["id"]}"' in page and "计划维护" in page
    post(ops, f"/app/ops/alerts/silences/{silence['id']}/remove", page="/app/ops/alerts")
    assert rt.alerts.silences() == []
    actions = [e["action"] for e in rt.service.audit_events()]
    assert "alert.silence" in actions and "alert.unsilence" in actions
