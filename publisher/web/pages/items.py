"""Editor pages: the item list with search and filters, the metadata editor, the item page
with its workflow actions (per role), the per-channel preview, and abolish / withdraw
behind a confirmation step."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.domain.clock import local_today
from publisher.domain.errors import NotFoundError, PublisherError, ValidationError
from publisher.domain.item import ItemState, ItemType, Validity
from publisher.domain.numbers import ascii_digits
from publisher.domain.permissions import Permission
from publisher.editorial.checks.problem import problem_text
from publisher.editorial.images import MAX_BYTES, store_image
from publisher.editorial.paging import Cursor
from publisher.editorial.readmodels import (
    OVERALL_FILTERS,
    ItemFilters,
    author_of,
    group_members,
    search_items,
)
from publisher.editorial.workflow import STATE_LABELS
from publisher.web.pages.common import (
    PostDep,
    SessionDep,
    allowed,
    channel_label,
    flash,
    forbidden,
    redirect,
    render,
    runtime_of,
)
from publisher.web.pages.forms import FIELDS, TYPE_OPTIONS, form_values, item_data, place_errors
from publisher.web.pages.sessions import PageSession

router = APIRouter(include_in_schema=False)
_UID = re.compile(r"^[0-9a-z]{26}$")


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _not_found(request: Request, session: PageSession) -> HTMLResponse:
    return render(
        request,
        "app/error.html",
        {"title": "未找到", "message": "未找到该信息 / item not found"},
        session,
        404,
    )


def _error_messages(exc: PublisherError) -> list[str]:
    if isinstance(exc, ValidationError):
        return [problem_text(e) for e in exc.errors]
    return [exc.message]


@router.get("/app/items", response_class=HTMLResponse)
def item_list(
    request: Request,
    session: SessionDep,
    q: str = "",
    type: str = "",
    state: str = "",
    validity: str = "",
    overall: str = "",
    date_field: str = "updated",
    date_from: str = "",
    date_to: str = "",
    page: str = "1",
    after: str = "",
    before: str = "",
) -> HTMLResponse:
    filters = ItemFilters(
        q=q.strip()[:200] or None,
        type=type if type in ItemType._value2member_map_ else None,
        state=state if state in ItemState._value2member_map_ else None,
        validity=validity if validity in Validity._value2member_map_ else None,
        overall=overall if overall in OVERALL_FILTERS else None,
        date_field="published" if date_field == "published" else "updated",
        date_from=_date(date_from),
        date_to=_date(date_to),
    )
    number = int(page) if ascii_digits(page) and 0 < int(page) < 100_000 else 1
    result = search_items(
        runtime_of(request).service,
        filters,
        number,
        after=Cursor.decode(after) if after else None,
        before=Cursor.decode(before) if before else None,
    )
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "after", "before") and v}
    return render(
        request,
        "app/items.html",
        {
            "rows": result.rows,
            "total": result.total,
            "capped": result.capped,
            "page": number,
            "pages": None if result.capped else max(1, -(-result.total // 50)),
            "next": result.next,
            "prev": result.prev,
            "f": filters,
            "query": query,
            "types": TYPE_OPTIONS,
            "states": list(STATE_LABELS.items()),
            "validities": [v.value for v in Validity],
            "overalls": OVERALL_FILTERS,
            "can_create": allowed(session, Permission.ITEM_EDIT),
        },
        session,
    )


# -- editor ------------------------------------------------------------------------------------
def _editor(
    request: Request,
    session: PageSession,
    *,
    item: dict[str, Any] | None,
    values: dict[str, str],
    errors: list[Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    by_field, other = place_errors(errors or [])
    item_type = values.get("type") or "policy"
    return render(
        request,
        "app/editor.html",
        {
            "item": item,
            "values": values,
            "fields": [f for f in FIELDS if not (item and f.create_only)],
            "errors": by_field,
            "other_errors": other,
            "item_type": item_type,
        },
        session,
        status,
    )


@router.get("/app/items/new", response_class=HTMLResponse)
def new_item(
    request: Request, session: SessionDep, type: str = "policy", interprets: str = "", release_group: str = ""
) -> Response:
    if not allowed(session, Permission.ITEM_EDIT):
        return forbidden(request, session, "只有编辑可以新建信息 / only editors create items")
    item_type = type if type in ItemType._value2member_map_ else "policy"
    values = {
        "type": item_type,
        "disclosure": "主动公开",
        "scope": "面向社会",
        "issue_date": local_today().isoformat(),
        "interprets": interprets,
        "release_group": release_group,
    }
    return _editor(request, session, item=None, values=values)


@router.post("/app/items/new")
def create_item(request: Request, post: PostDep) -> Response:
    item_type = post.form.get("type", "")
    if item_type not in ItemType._value2member_map_:
        return _editor(
            request,
            post.session,
            item=None,
            values=post.form,
            status=422,
            errors=[ValidationError.one("type", "请选择信息类型 / choose a type").errors[0]],
        )
    data = item_data(post.form, item_type)
    data["type"] = item_type
    data["ref"] = (post.form.get("ref") or "").strip() or None
    try:
        item = runtime_of(request).service.create_item(post.actor, data)
    except ValidationError as exc:
        return _editor(request, post.session, item=None, values=post.form, errors=exc.errors, status=422)
    except PublisherError as exc:
        flash(post.session, "error", exc.message)
        return redirect("/app/items")
    _saved(post.session, post.form, item.content)
    return redirect(f"/app/items/{item.uid}")


def _saved(session: PageSession, form: dict[str, str], content: dict[str, Any]) -> None:
    flash(session, "ok", "已保存 / saved")
    typed = (form.get("doc_number") or "").strip()
    if typed and content.get("doc_number") and typed != content["doc_number"]:
        flash(session, "ok", f"文号已规范为 {content['doc_number']} / document number normalised")


@router.get("/app/items/{uid}/edit", response_class=HTMLResponse)
def edit_item(request: Request, uid: str, session: SessionDep) -> Response:
    if not _UID.match(uid):
        return _not_found(request, session)
    try:
        item = runtime_of(request).service.item_detail(uid)
    except NotFoundError:
        return _not_found(request, session)
    if not allowed(session, Permission.ITEM_EDIT):
        return forbidden(request, session, "只有编辑可以修改信息 / only editors edit items")
    return _editor(request, session, item=item, values=form_values(item["content"], item["type"]))


@router.post("/app/items/{uid}/edit")
def save_item(request: Request, uid: str, post: PostDep) -> Response:
    service = runtime_of(request).service
    try:
        item = service.item_detail(uid)
    except NotFoundError:
        return _not_found(request, post.session)
    values = {**post.form, "type": item["type"]}
    try:
        saved = service.update_item(post.actor, uid, item_data(post.form, item["type"]))
    except ValidationError as exc:
        return _editor(request, post.session, item=item, values=values, errors=exc.errors, status=422)
    except PublisherError as exc:
        flash(post.session, "error", exc.message)
        return redirect(f"/app/items/{uid}")
    _saved(post.session, post.form, saved.content)
    return redirect(f"/app/items/{uid}")


# -- the item and its actions ------------------------------------------------------------------
def _actions(session: PageSession, item: dict[str, Any]) -> list[str]:
    state = item["state"]
    out = []
    if allowed(session, Permission.ITEM_EDIT) and state in (
        ItemState.DRAFT,
        ItemState.PUBLISHED,
        ItemState.APPROVED,
    ):
        out.append("edit")
    if allowed(session, Permission.ITEM_EDIT) and state == ItemState.DRAFT:
        out.append("submit")
    if allowed(session, Permission.ITEM_REVIEW) and state == ItemState.IN_REVIEW:
        out += ["review", "reject"]
    if allowed(session, Permission.ITEM_APPROVE) and state == ItemState.AWAITING_APPROVAL:
        out += ["approve", "reject"]
    if allowed(session, Permission.ITEM_APPROVE) and item["live_version"] and state != ItemState.WITHDRAWN:
        if item["validity"] == Validity.VALID:
            out.append("abolish")
        out.append("withdraw")
    return list(dict.fromkeys(out))


@router.get("/app/items/{uid}", response_class=HTMLResponse)
def item_page(request: Request, uid: str, session: SessionDep) -> HTMLResponse:
    if not _UID.match(uid):
        return _not_found(request, session)
    service = runtime_of(request).service
    try:
        item = service.item_detail(uid)
    except NotFoundError:
        return _not_found(request, session)
    group = [m for m in group_members(service, item["release_group"]) if m["uid"] != uid]
    return render(
        request,
        "app/item.html",
        {
            "item": item,
            "c": item["content"],
            "group": group,
            "actions": _actions(session, item),
            "own": author_of(service, uid) == session.user_id,
            "deliveries": service.deliveries(uid),
            "clocks": _clocks(request, uid),
            "checks": runtime_of(request).check_service.item_report(uid)[1],
        },
        session,
    )


def _clocks(request: Request, uid: str) -> list[dict[str, Any]]:
    """The item's statutory disclosure clocks (days left, or met), for the metadata panel."""
    return runtime_of(request).compliance.item_deadlines(uid)


@router.post("/app/items/{uid}/images")
async def upload_image(request: Request, uid: str, post: PostDep) -> Response:
    """An image for the body (the rich-text editor posts it); answers its public path."""
    data = await request.form()
    upload = data.get("file")
    content = await upload.read(MAX_BYTES + 1) if upload is not None and not isinstance(upload, str) else b""
    service = runtime_of(request).service
    try:
        path = await run_in_threadpool(store_image, service, post.actor, uid, content)
    except PublisherError as exc:
        status = 422 if isinstance(exc, ValidationError) else exc.status
        return JSONResponse({"error": _error_messages(exc)[0]}, status_code=status)
    # absolute, so the channels fetch and re-host it like any image in a body
    settings = runtime_of(request).settings
    base = settings.public_base_url if settings.public_base_url_given else str(request.base_url)
    return JSONResponse({"url": base.rstrip("/") + path}, status_code=201)


@router.post("/app/items/{uid}/{action}")
def act(request: Request, uid: str, action: str, post: PostDep) -> Response:
    service = runtime_of(request).service
    reason = (post.form.get("reason") or "").strip()
    back = f"/app/items/{uid}"
    try:
        if action == "submit":
            service.submit(post.actor, uid)
            flash(post.session, "ok", "已提交审查 / submitted for review")
        elif action == "review":
            service.review(post.actor, uid)
            flash(post.session, "ok", "保密审查已通过 / review passed")
        elif action == "reject":
            service.reject(post.actor, uid, reason)
            flash(post.session, "ok", "已退回 / rejected")
        elif action == "approve":
            # channels the approver leaves out (their own pre-flight problems), with why
            exclude = [c[:64] for c in post.lists.get("exclude", []) if c][:20]
            why = (post.form.get("exclude_reason") or "").strip()
            if exclude and not why:
                flash(post.session, "error", "排除渠道须说明理由 / leaving a channel out needs a reason")
                return redirect(f"{back}/approve")
            # the digest of what the page showed: an approval never changes anything else
            outcome = service.approve(
                post.actor, uid, exclude=exclude, exclude_reason=why or None, seen=post.form.get("etag", "")
            )
            names = "、".join(f"《{m.title}》" for m in outcome.items)
            flash(post.session, "ok", f"已批准 {names} / approved")
            if exclude:
                left = "、".join(channel_label(c) for c in dict.fromkeys(exclude))
                flash(
                    post.session,
                    "ok",
                    f"未投递 {left}：投递记为“审批时排除”，问题解决后可在投递看板放行 / left out, "
                    "release it from the dashboard once fixed",
                )
            if outcome.abolished:
                targets = "、".join(
                    f"《{t['title']}》（{t['doc_number'] or '无文号'}，索取号 {t['index_number'] or '无'}）"
                    for t in outcome.abolished
                )
                flash(post.session, "ok", f"同时废止 {targets} / abolished with it")
        elif action == "withdraw":
            if post.form.get("confirm") != "yes":
                return redirect(f"{back}/withdraw")
            service.withdraw(post.actor, uid, reason)
            flash(post.session, "ok", "已撤回，各渠道将下架 / withdrawn from every channel")
        elif action == "abolish":
            if post.form.get("confirm") != "yes":
                return redirect(f"{back}/abolish")
            on = _date(post.form.get("date"))
            if on is None:
                raise ValidationError.one("date", "日期格式应为 YYYY-MM-DD / expected a date")
            service.abolish(
                post.actor,
                uid,
                on=on,
                by=(post.form.get("by") or "").strip() or None,
                validity=post.form.get("validity") or Validity.ABOLISHED.value,
            )
            flash(post.session, "ok", "有效性已变更，各渠道将更新 / validity changed on every channel")
        else:
            return _not_found(request, post.session)
    except PublisherError as exc:
        for message in _error_messages(exc):
            flash(post.session, "error", message)
        if action in ("withdraw", "abolish"):
            return redirect(f"{back}/{action}")
    return redirect(back)


@router.get("/app/items/{uid}/withdraw", response_class=HTMLResponse)
@router.get("/app/items/{uid}/abolish", response_class=HTMLResponse)
def confirm_page(request: Request, uid: str, session: SessionDep) -> HTMLResponse:
    if not _UID.match(uid):
        return _not_found(request, session)
    try:
        item = runtime_of(request).service.item_detail(uid)
    except NotFoundError:
        return _not_found(request, session)
    action = request.url.path.rsplit("/", 1)[1]
    return render(
        request,
        "app/confirm.html",
        {
            "item": item,
            "action": action,
            "today": local_today().isoformat(),
            "validities": [v.value for v in Validity if v is not Validity.VALID],
        },
        session,
    )


@router.get("/app/items/{uid}/preview", response_class=HTMLResponse)
def preview_page(request: Request, uid: str, session: SessionDep) -> HTMLResponse:
    if not _UID.match(uid):
        return _not_found(request, session)
    service = runtime_of(request).check_service
    try:
        state, view, channels = service.preview(uid)
    except NotFoundError:
        return _not_found(request, session)
    checks = service.item_report(uid)[1]
    return render(
        request,
        "app/preview.html",
        {
            "uid": uid,
            "v": view,
            "channels": channels,
            "state": state,
            "problems": sum(len(c.problems) + (1 if c.error else 0) for c in channels)
            + sum(p.blocking and p.source == "content" for p in checks.problems),
            "checks": checks,
        },
        session,
    )
