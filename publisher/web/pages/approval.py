"""The approval's confirmation page (`GET /app/items/{uid}/approve`): before the click, which
items the approval releases, which channels receive them and the state of those channels
(paused with reason, breaker open, failing recently), the release group, the items it
abolishes, and each channel's own pre-flight problems with a box to leave that channel out
(and a reason, both posted with the confirmation). The confirm button posts to `/app/items/{uid}/approve` (publisher.web.pages.items),
whose result page follows the deliveries live (static/follow.js) until they settle."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from publisher.domain.errors import NotFoundError
from publisher.domain.permissions import Permission
from publisher.editorial.approval import approval_plan
from publisher.observe.metrics import channel_health
from publisher.web.pages.common import SessionDep, allowed, forbidden, render, runtime_of

router = APIRouter(include_in_schema=False)
_UID = re.compile(r"^[0-9a-z]{26}$")


@router.get("/app/items/{uid}/approve", response_class=HTMLResponse)
def confirm_approval(request: Request, uid: str, session: SessionDep) -> Response:
    runtime = runtime_of(request)
    if not allowed(session, Permission.ITEM_APPROVE):
        return forbidden(request, session, "只有审批人可以批准发布")
    try:
        if not _UID.match(uid):
            raise NotFoundError("未找到该信息")
        plan = approval_plan(runtime.service, runtime.settings, uid, runtime.check_service)
    except NotFoundError:
        return render(request, "app/error.html", {"title": "未找到", "message": "未找到该信息"}, session, 404)
    health = {h.channel: h for h in channel_health(runtime.db, runtime.settings, plan.channels)}
    return render(request, "app/approve.html", {"plan": plan, "health": health}, session)


__all__ = ["router"]
