"""The content checks over HTTP: the one problem list of an item or of a draft being typed,
accepting a warning, and the ops-maintained dictionary and register.

    POST /api/check                       a draft (item JSON, lenient) → its problems; no network
    GET  /api/items/{uid}/check           the item's problems (content + channels), acceptances
    POST /api/items/{uid}/check/accept    {key, reason}: a reviewer accepts one warning
    GET|POST /api/checks/words            the dictionary's ops entries; add one (ops)
    POST /api/checks/words/remove         {term}: remove an entry or switch a starter entry off (ops)
    GET|POST /api/checks/people           the names and titles register; add an entry (ops)
    DELETE /api/checks/people/{id}        remove an entry (ops)

    POST /app/checks/draft                the editor page's form as it is typed (session + CSRF)
    POST /app/checks/items/{uid}/accept   the review page's accept-with-reason form

Every handler calls `publisher.editorial.checks.service.CheckService` (`runtime.check_service`),
which the CLI and the pages use too, so every surface shows the same list.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.errors import NotFoundError, PublisherError, ValidationError
from publisher.domain.item import ItemType
from publisher.web.deps import ActorDep, RuntimeDep, check_params, check_storable
from publisher.web.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND


# -- API --------------------------------------------------------------------------------------
def _guard(request: Request, actor: ActorDep) -> None:
    check_params(request)


api = APIRouter(prefix="/api", dependencies=[Depends(_guard)], responses=ERROR_RESPONSES, tags=["checks"])


class ProblemOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    field: str
    message: str
    rule: str = Field(description="规则 / rule id, e.g. wording.wrong, secrecy.mark, channel.wechat")
    severity: str = Field(description="block（须改正）或 warn（提醒，可由审查人说明理由后接受）")
    source: str = Field(description="content（内容检查）或 channel（渠道预检）")
    label: str = Field(description="字段中文名 / the field in Chinese")
    matched: str
    start: int | None
    end: int | None
    suggestion: str | None
    key: str = Field(description="问题指纹，接受提醒时引用 / fingerprint, used to accept a warning")
    accepted: dict[str, Any] | None


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool = Field(description="没有阻止批准的问题 / nothing refuses approval")
    blocking: int
    counts: dict[str, int]
    problems: list[ProblemOut]
    versions: dict[str, int] = Field(description="词库、登记簿版本 / dictionary and register versions")
    links: dict[str, int]


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class WordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="wrong / normative / forbidden / allow")
    suggestion: str | None = Field(default=None, max_length=200)
    severity: str | None = Field(default=None, description="block / warn；空则按类型默认")
    note: str | None = Field(default=None, max_length=2000)


class RemoveWordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: str = Field(min_length=1, max_length=200)


class PersonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=40)
    title: str = Field(min_length=1, max_length=100)
    valid_from: date
    valid_to: date | None = None
    note: str | None = Field(default=None, max_length=2000)


Uid = Annotated[str, Field(min_length=1, max_length=100)]
DraftBody = Annotated[
    dict[str, Any],
    Body(description="编辑中的信息（与创建信息同形，可不完整）/ the item being edited, possibly incomplete"),
]


@api.post("/check", response_model=ReportOut, summary="检查编辑中的信息 / check a draft as it is typed")
def check_draft(
    body: DraftBody,
    runtime: RuntimeDep,
    uid: Annotated[str | None, Query(max_length=100, description="已保存信息的 uid")] = None,
) -> dict[str, Any]:
    check_storable(body)
    return runtime.check_service.draft_report(body, uid or None).as_dict()


@api.get(
    "/items/{uid}/check",
    response_model=ReportOut,
    responses=NOT_FOUND,
    summary="信息的问题清单 / an item's problems (content and channels)",
)
def check_item(
    uid: Uid,
    runtime: RuntimeDep,
    network: Annotated[bool, Query(description="现在检查链接（否则只用缓存）/ probe links now")] = False,
) -> dict[str, Any]:
    info, report = runtime.check_service.item_report(uid, network=network)
    return {**report.as_dict(), "item": info}


@api.post(
    "/items/{uid}/check/accept",
    response_model=ReportOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="接受一条提醒并说明理由 / accept a warning with a reason (reviewer)",
)
def accept_warning(uid: Uid, body: AcceptBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump())
    return runtime.check_service.accept(actor, uid, body.key, body.reason).as_dict()


@api.get("/checks/words", summary="词库 / the wording dictionary")
def list_words(
    runtime: RuntimeDep,
    all: Annotated[bool, Query(description="含已删除的 / include removed entries")] = False,
    starter: Annotated[bool, Query(description="含内置词条 / include the starter entries")] = False,
) -> dict[str, Any]:
    service = runtime.check_service
    version, entries = service.words(include_removed=all)
    out: dict[str, Any] = {"version": version, "starter_count": len(service.starter), "entries": entries}
    if starter:
        out["starter"] = [
            {
                "term": t.term,
                "kind": t.kind.value,
                "suggestion": t.suggestion,
                "severity": t.effective_severity.value,
            }
            for t in service.starter.values()
        ]
    return out


@api.post("/checks/words", status_code=201, summary="添加词条 / add a dictionary entry (ops)")
def add_word(body: WordBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump())
    return runtime.check_service.add_term(
        actor, body.term, body.kind, suggestion=body.suggestion, severity=body.severity, note=body.note
    )


@api.post(
    "/checks/words/remove", responses=NOT_FOUND, summary="删除词条或停用内置词条 / remove an entry (ops)"
)
def remove_word(body: RemoveWordBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump())
    return runtime.check_service.remove_term(actor, body.term)


@api.get("/checks/people", summary="姓名职务登记簿 / the names and titles register")
def list_people(
    runtime: RuntimeDep, all: Annotated[bool, Query(description="含已删除的 / include removed")] = False
) -> dict[str, Any]:
    version, entries = runtime.check_service.people(include_removed=all)
    return {"version": version, "entries": entries}


@api.post("/checks/people", status_code=201, summary="登记姓名与职务 / add a register entry (ops)")
def add_person(body: PersonBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump(mode="json"))
    return runtime.check_service.add_person(
        actor, body.name, body.title, body.valid_from, body.valid_to, body.note
    )


@api.delete(
    "/checks/people/{entry_id}", responses=NOT_FOUND, summary="删除登记 / remove a register entry (ops)"
)
def remove_person(
    entry_id: Annotated[int, Field(ge=1, le=2**62)], runtime: RuntimeDep, actor: ActorDep
) -> dict[str, Any]:
    return runtime.check_service.remove_person(actor, entry_id)


# -- pages (session cookie + CSRF) --------------------------------------------------------------
pages = APIRouter(include_in_schema=False)


@pages.post("/app/checks/draft")
async def page_draft(request: Request) -> Response:
    """The editor page's form, posted by static/checks.js as the editor types (debounced)."""
    from starlette.concurrency import run_in_threadpool

    from publisher.web.pages.common import checked_post, runtime_of
    from publisher.web.pages.forms import item_data

    post = await checked_post(request)
    form = post.form
    item_type = form.get("type") or form.get("item_type") or ""
    uid = form.get("uid") or None
    runtime = runtime_of(request)
    if not item_type and uid:
        item_type = runtime.check_service.item_type(uid) or ""
    if item_type not in ItemType._value2member_map_:
        item_type = ItemType.POLICY.value
    data = item_data(form, item_type)
    data["type"] = item_type
    try:
        check_storable(data)
        report = await run_in_threadpool(runtime.check_service.draft_report, data, uid)
    except ValidationError as exc:
        return JSONResponse({"errors": [e.as_dict() for e in exc.errors]}, status_code=422)
    except PublisherError as exc:
        return JSONResponse({"errors": [{"field": "body", "message": exc.message}]}, status_code=422)
    return JSONResponse(report.as_dict(), headers={"Cache-Control": "no-store"})


@pages.post("/app/checks/items/{uid}/accept")
async def page_accept(request: Request, uid: str) -> Response:
    from starlette.concurrency import run_in_threadpool

    from publisher.web.pages.common import checked_post, flash, redirect, runtime_of

    post = await checked_post(request)
    back = f"/app/items/{uid}" if uid.isalnum() else "/app/items"
    try:
        await run_in_threadpool(
            runtime_of(request).check_service.accept,
            post.actor,
            uid,
            post.form.get("key", ""),
            post.form.get("reason", ""),
        )
        flash(post.session, "ok", "已接受该提醒，理由已记录 / warning accepted, reason recorded")
    except NotFoundError:
        flash(post.session, "error", "未找到该信息 / item not found")
        return redirect("/app/items")
    except PublisherError as exc:
        messages = [e.message for e in exc.errors] if hasattr(exc, "errors") else [exc.message]
        for m in messages:
            flash(post.session, "error", m)
    return redirect(back + "#problems")


router = APIRouter()
router.include_router(api)
router.include_router(pages)
