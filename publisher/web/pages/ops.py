"""Ops pages: the dashboard (delivery matrix, channel health, deliveries excluded at approval
with their release button), an item's timeline, the failed queue with replay, channel
pause/resume and the audit log. Anyone logged in may look;
who may act is the permission table's
(publisher.domain.permissions), checked again by the delivery service."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from publisher.domain.actions import AuditAction
from publisher.domain.errors import NotFoundError, PublisherError, TransitionError, ValidationError
from publisher.domain.numbers import ascii_digits
from publisher.domain.permissions import Permission
from publisher.editorial.auditsearch import ACTION_LABELS, AuditQuery, search_audit
from publisher.editorial.checks.problem import problem_text
from publisher.editorial.outages import outages, retrying
from publisher.editorial.pauses import latest_pauses
from publisher.editorial.readmodels import excluded_deliveries, failed_deliveries, matrix, timeline
from publisher.observe.metrics import channel_health
from publisher.runtime import Runtime
from publisher.web.pages.common import (
    PostDep,
    SessionDep,
    allowed,
    bad_query,
    channel_label,
    flash,
    redirect,
    render,
    runtime_of,
)

router = APIRouter(include_in_schema=False)
_UID = re.compile(r"^[0-9a-z]{26}$")
MAX_SEQ = 2**62  # audit seq is a BIGINT; anything beyond is not an event
_CHANNEL = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
ALERTING = ("failed", "held")


def _page_number(value: str) -> int:
    return int(value) if ascii_digits(value) and 0 < int(value) < 100_000 else 1


@router.get("/app/ops", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.db.one_read():  # every panel's read in one session
        return _dashboard(request, session, runtime)


def _dashboard(request: Request, session: SessionDep, runtime: Runtime) -> HTMLResponse:
    # one fold and read of the maintained counts for every panel: each panel taking its own
    # cost five more statements per view, one of them a second fold
    counts = runtime.service.counts()
    channels, rows = matrix(runtime.service, counts=counts)
    health = channel_health(runtime.db, runtime.settings, channels, counts=counts)
    failed = sum(h.counts.get("failed", 0) for h in health)
    excluded_total, excluded = excluded_deliveries(runtime.service, counts=counts)
    return render(
        request,
        "app/ops.html",
        {
            "channels": channels,
            "rows": rows,
            "health": health,
            "failed": failed,
            "can_act": allowed(session, Permission.CHANNEL_CONTROL),
            "pauses": latest_pauses(runtime.service, [h.channel for h in health if h.paused]),
            "outages": outages(runtime.service, channels, counts),
            "excluded": excluded,
            "excluded_total": excluded_total,
            "can_release": allowed(session, Permission.ITEM_APPROVE),
            "drifts": runtime.deliveries.open_drift_counts(),
        },
        session,
    )


@router.get("/app/ops/retrying", response_class=HTMLResponse)
def retry_queue(request: Request, session: SessionDep, channel: str = "") -> HTMLResponse:
    """Deliveries waiting for their next attempt: their own queue, not only the failed ones."""
    runtime = runtime_of(request)
    chosen = channel if _CHANNEL.match(channel) else None
    return render(
        request,
        "app/retrying.html",
        {
            "rows": retrying(runtime.service, chosen),
            "channel": chosen or "",
            "channels": runtime.service.channel_names(),
        },
        session,
    )


@router.get("/app/ops/channels", response_class=HTMLResponse)
def channels_page(request: Request, session: SessionDep) -> HTMLResponse:
    runtime = runtime_of(request)
    counts = runtime.service.counts()  # one for both (the names and the health)
    health = channel_health(
        runtime.db, runtime.settings, runtime.service.channel_names(counts), counts=counts
    )
    return render(
        request,
        "app/channels.html",
        {
            "health": health,
            "can_act": allowed(session, Permission.CHANNEL_CONTROL),
            "pauses": latest_pauses(runtime.service, [h.channel for h in health if h.paused]),
        },
        session,
    )


@router.get("/app/ops/items/{uid}", response_class=HTMLResponse)
def item_timeline(request: Request, uid: str, session: SessionDep) -> HTMLResponse:
    runtime = runtime_of(request)
    try:
        item = runtime.service.item_detail(uid) if _UID.match(uid) else None
    except Exception:  # NotFoundError: one page for both cases
        item = None
    if item is None:
        return render(
            request,
            "app/error.html",
            {"title": "未找到", "message": "未找到该信息 / item not found"},
            session,
            404,
        )
    deliveries, entries = timeline(runtime.service, uid)
    return render(
        request,
        "app/timeline.html",
        {
            "item": item,
            "deliveries": deliveries,
            "entries": entries,
            "drifts": runtime.deliveries.drifts(open_only=False, item=uid, limit=100),
            "can_act": allowed(session, Permission.DELIVERY_OPERATE),
            "can_release": allowed(session, Permission.ITEM_APPROVE),
        },
        session,
    )


@router.get("/app/ops/failed", response_class=HTMLResponse)
def failed_queue(request: Request, session: SessionDep, channel: str = "", page: str = "1") -> HTMLResponse:
    runtime = runtime_of(request)
    chosen = channel if _CHANNEL.match(channel) else None
    number = _page_number(page)
    total, rows = failed_deliveries(runtime.service, chosen, number)
    return render(
        request,
        "app/failed.html",
        {
            "rows": rows,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // 50)),
            "channel": chosen or "",
            "channels": runtime.service.channel_names(),
            "can_act": allowed(session, Permission.DELIVERY_OPERATE),
        },
        session,
    )


@router.get("/app/ops/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: SessionDep,
    item: str = "",
    before: str = "",
    q: str = "",
    actor: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
) -> HTMLResponse:
    runtime = runtime_of(request)
    chosen = item if _UID.match(item) else None
    if before and not (ascii_digits(before) and 0 < int(before) <= MAX_SEQ):
        return bad_query(request, session, "before", "应为事件序号（正整数）/ must be an event number")
    days: dict[str, date | None] = {}
    for name, raw in (("date_from", date_from), ("date_to", date_to)):
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            return bad_query(request, session, name, "日期格式应为 YYYY-MM-DD / expected a date")
    if action and action not in ACTION_LABELS:
        return bad_query(request, session, "action", "没有这个动作 / unknown action")
    query = AuditQuery(
        q=q.strip()[:100] or None,
        actor=actor.strip()[:64] or None,
        action=AuditAction(action) if action else None,
        day_from=days["date_from"],
        day_to=days["date_to"],
        item=chosen,
        before=int(before) if before else None,
    )
    rows = search_audit(runtime.service, query)
    filters = {
        "item": chosen or "",
        "q": query.q or "",
        "actor": query.actor or "",
        "action": action,
        "date_from": date_from,
        "date_to": date_to,
    }
    return render(
        request,
        "app/audit.html",
        {
            "rows": rows,
            "item": chosen or "",
            "f": filters,
            "actions": ACTION_LABELS,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "next_before": rows[-1]["seq"] if len(rows) == 100 else None,
        },
        session,
    )


# -- actions -----------------------------------------------------------------------------------
def _refused(post: PostDep, exc: PublisherError) -> None:
    flash(post.session, "error", exc.message)


def _back(post: PostDep, default: str) -> str:
    back = post.form.get("back") or ""
    return back if back.startswith("/app/") and not back.startswith("//") else default


def _ids(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if ascii_digits(v) and 0 < int(v) < 2**62})


@router.post("/app/ops/replay")
def replay(request: Request, post: PostDep) -> Response:
    back = _back(post, "/app/ops/failed")
    deliveries = runtime_of(request).deliveries
    one = post.form.get("one")
    ids = _ids([one] if one else post.lists.get("delivery", []))
    if not ids:
        flash(post.session, "error", "请选择要重放的投递 / select deliveries to replay")
        return redirect(back)
    done: list[int] = []
    try:
        for i in ids:
            try:
                done += deliveries.replay(post.actor, i)
            except (TransitionError, NotFoundError):
                continue  # no longer failed (or gone): counted as skipped below
    except PublisherError as exc:  # the role: the service refuses before touching anything
        _refused(post, exc)
        return redirect(back)
    skipped = len(ids) - len(done)
    flash(
        post.session,
        "ok",
        f"已重放 {len(done)} 条投递 / replayed {len(done)}"
        + (f"；{skipped} 条已不是失败状态 / {skipped} no longer failed" if skipped else ""),
    )
    return redirect(back)


@router.post("/app/ops/deliveries/{delivery_id}/release")
def release(request: Request, delivery_id: str, post: PostDep) -> Response:
    """An excluded delivery goes out after all (the approver's decision; the service re-runs
    the channel's pre-flight and refuses, naming the problem, while one is left)."""
    back = _back(post, "/app/ops")
    ids = _ids([delivery_id])
    if not ids:
        flash(post.session, "error", "没有这条投递 / no such delivery")
        return redirect(back)
    try:
        runtime_of(request).deliveries.release_excluded(post.actor, ids[0])
    except ValidationError as exc:
        for error in exc.errors:
            flash(post.session, "error", f"仍有预检问题，未放行 / not released: {problem_text(error)}")
        return redirect(back)
    except PublisherError as exc:
        _refused(post, exc)
        return redirect(back)
    flash(post.session, "ok", f"投递 {ids[0]} 已放行，将重新发送 / released")
    return redirect(back)


@router.get("/app/ops/channels/{channel}/pause", response_class=HTMLResponse)
def confirm_pause(request: Request, channel: str, session: SessionDep, back: str = "/app/ops") -> Response:
    """Pausing asks for a reason and a confirmation, and says what it does first."""
    runtime = runtime_of(request)
    if not _CHANNEL.match(channel) or channel not in runtime.service.channel_names():
        return render(request, "app/error.html", {"title": "未找到", "message": "没有这个渠道"}, session, 404)
    health = channel_health(runtime.db, runtime.settings, [channel])[0]
    back = back if back.startswith("/app/") and not back.startswith("//") else "/app/ops"
    return render(request, "app/pause.html", {"h": health, "back": back}, session)


@router.post("/app/ops/channels/{channel}/pause")
def pause(request: Request, channel: str, post: PostDep) -> Response:
    back = _back(post, "/app/ops")
    if not _CHANNEL.match(channel):
        return redirect(back)
    reason = (post.form.get("reason") or "").strip()
    if post.form.get("confirm") != "yes" or not reason:
        if post.form.get("confirm") == "yes":
            flash(post.session, "error", "请填写暂停原因")
        return redirect(f"/app/ops/channels/{channel}/pause?back={quote(back, safe='/')}")
    try:
        runtime_of(request).deliveries.pause(post.actor, channel, reason[:1000])
        flash(post.session, "ok", f"渠道 {channel_label(channel)} 已暂停：{reason[:100]}")
    except PublisherError as exc:
        _refused(post, exc)
    return redirect(back)


@router.post("/app/ops/channels/{channel}/resume")
def resume(request: Request, channel: str, post: PostDep) -> Response:
    if _CHANNEL.match(channel):
        try:
            _status, released = runtime_of(request).deliveries.resume(post.actor, channel)
            flash(
                post.session,
                "ok",
                f"渠道 {channel} 已恢复，放行 {len(released)} 条 / resumed, {len(released)} released",
            )
        except PublisherError as exc:
            _refused(post, exc)
    return redirect(_back(post, "/app/ops"))
