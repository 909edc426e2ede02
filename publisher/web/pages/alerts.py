"""The ops alerts page: firing groups, active silences, recent messages; ops silence a kind or
a channel for a while and lift silences here (through publisher/alerting/service.py, which
checks the role and audits)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from publisher.alerting.kinds import KINDS
from publisher.domain.errors import PublisherError, ValidationError
from publisher.domain.permissions import Permission
from publisher.web.pages.common import PostDep, SessionDep, allowed, flash, redirect, render, runtime_of

router = APIRouter(include_in_schema=False)
PAGE = "/app/ops/alerts"
DURATIONS = {
    "30m": timedelta(minutes=30),
    "2h": timedelta(hours=2),
    "8h": timedelta(hours=8),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}


@router.get(PAGE, response_class=HTMLResponse)
def alerts_page(request: Request, session: SessionDep) -> HTMLResponse:
    service = runtime_of(request).alerts
    return render(
        request,
        "app/alerts.html",
        {
            "firing": service.firing(),
            "silences": service.silences(),
            "recent": service.recent(50),
            "kinds": KINDS,
            "durations": list(DURATIONS),
            "channels": runtime_of(request).service.channel_names(),
            "can_act": allowed(session, Permission.ALERT_MANAGE),
        },
        session,
    )


@router.post(f"{PAGE}/silence")
def silence(request: Request, post: PostDep) -> Response:
    duration = DURATIONS.get(post.form.get("duration", ""))
    try:
        if duration is None:
            raise ValidationError.one("duration", "请选择时长 / choose how long")
        row = runtime_of(request).alerts.silence(
            post.actor,
            kind=post.form.get("kind") or "*",
            channel=post.form.get("channel") or "*",
            duration=duration,
            reason=post.form.get("reason", ""),
        )
    except PublisherError as exc:
        flash(post.session, "error", str(exc))
        return redirect(PAGE)
    flash(post.session, "ok", f"已静默 / silenced #{row['id']}: {row['kind']} @ {row['channel']}")
    return redirect(PAGE)


@router.post(PAGE + "/silences/{silence_id}/remove")
def unsilence(request: Request, silence_id: int, post: PostDep) -> Response:
    try:
        runtime_of(request).alerts.unsilence(post.actor, silence_id)
    except PublisherError as exc:
        flash(post.session, "error", str(exc))
        return redirect(PAGE)
    flash(post.session, "ok", f"已解除静默 / silence lifted: #{silence_id}")
    return redirect(PAGE)
