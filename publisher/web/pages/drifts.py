"""Post-publication inspection on the ops pages: the drift records (`/app/ops/drifts`), and the
two actions on one — re-push the version (a normal delivery) or accept it with a reason —
as CSRF-checked posts. Anyone logged in may look; the delivery service checks the ops
permission again when an action runs."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from publisher.domain.errors import PublisherError
from publisher.domain.permissions import Permission
from publisher.web.pages.common import PostDep, SessionDep, allowed, flash, redirect, render, runtime_of

router = APIRouter(include_in_schema=False)
DriftId = Annotated[int, Path(ge=1, le=2**62)]  # beyond a BIGINT is no record (never a 500)
_CHANNEL = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
KIND_LABELS = {
    "missing": "副本不存在",
    "unpublished": "副本未公开",
    "stale": "副本内容不符",
    "link_dead": "外链失效",
    "link_moved": "外链跳转到其他网站",
}
RESOLUTION_LABELS = {
    "cleared": "已恢复正常",
    "repushed": "已重新投递",
    "accepted": "已接受",
    "superseded": "已由新版本取代",
}


@router.get("/app/ops/drifts", response_class=HTMLResponse)
def drifts_page(request: Request, session: SessionDep, channel: str = "", all: str = "") -> HTMLResponse:
    runtime = runtime_of(request)
    chosen = channel if _CHANNEL.match(channel) else None
    rows = runtime.deliveries.drifts(open_only=all != "1", channel=chosen, limit=500)
    return render(
        request,
        "app/drifts.html",
        {
            "rows": rows,
            "channel": chosen or "",
            "show_all": all == "1",
            "channels": runtime.service.channel_names(),
            "can_act": allowed(session, Permission.DELIVERY_OPERATE),
            "KIND_LABELS": KIND_LABELS,
            "RESOLUTION_LABELS": RESOLUTION_LABELS,
        },
        session,
    )


def _back(post: PostDep) -> str:
    back = post.form.get("back") or ""
    return back if back.startswith("/app/") and not back.startswith("//") else "/app/ops/drifts"


@router.post("/app/ops/drifts/{drift_id}/repush")
def repush(request: Request, drift_id: DriftId, post: PostDep) -> Response:
    try:
        delivery_id = runtime_of(request).deliveries.repush(post.actor, drift_id)
        flash(post.session, "ok", f"已重新投递（投递 {delivery_id}）/ queued again")
    except PublisherError as exc:
        flash(post.session, "error", exc.message)
    return redirect(_back(post))


@router.post("/app/ops/drifts/{drift_id}/accept")
def accept(request: Request, drift_id: DriftId, post: PostDep) -> Response:
    try:
        runtime_of(request).deliveries.accept_drift(post.actor, drift_id, post.form.get("reason") or "")
        flash(post.session, "ok", f"已接受偏差 {drift_id} / accepted")
    except PublisherError as exc:
        flash(post.session, "error", exc.message)
    return redirect(_back(post))
