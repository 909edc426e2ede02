"""Disclosure compliance over HTTP (publisher.compliance): the JSON API under /api/compliance
and the public pages and exports of the catalogues and the annual figures.

API (Bearer token; roles as noted):
    GET  /api/compliance/deadlines[?status=]             every clock, due date first
    GET  /api/compliance/deadlines/overdue               the overdue list
    GET  /api/compliance/items/{uid}                     an item's clocks and links (application, consultation)
    GET  /api/compliance/calendar/{year}                 the schedule in use and where it comes from
    PUT  /api/compliance/calendar/{year}                 load the official schedule (ops); due dates recompute
    GET  /api/compliance/inspection                      age of the newest item per channel and column
    POST /api/compliance/check                           run the periodic checks now (ops)
    GET|POST /api/compliance/applications                answered applications (editor records)
    GET  /api/compliance/applications/{number}           one application, with its applicant
    POST /api/compliance/applications/{number}/convert   依申请转主动: a linked draft item (editor)
    GET  /api/compliance/reminders                       open reminders (adoption reports due)
    POST /api/compliance/consultations/{uid}/adoption-report   a linked draft adoption report (editor)
    GET  /api/compliance/annual/{year}                   the year's figures

Public: /catalogue (+ .csv .xlsx .json), /fees (+ /fees/{catalogue}.{fmt}, /fees/history.{fmt},
/fees/changes.rss), /reports/annual/{year} (+ .csv).

Handlers call publisher.compliance.service (roles are checked there) and never open a
database session themselves.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from publisher.compliance.annual import figures_table
from publisher.compliance.catalogue import Filters, catalogue_table
from publisher.compliance.fees import (
    CATALOGUE_KEYS,
    changes_rss,
    entries_table,
    fee_catalogue,
    history_table,
)
from publisher.compliance.report import LAW_KINDS, LAW_OUTCOMES, OUTCOMES
from publisher.compliance.tabular import FORMATS, render, stream
from publisher.domain.clock import local, utcnow
from publisher.domain.errors import NotFoundError, ValidationError
from publisher.domain.item import ITEM_TYPE_LABELS
from publisher.domain.numbers import ascii_digits
from publisher.runtime import Runtime
from publisher.web.deps import ActorDep, check_params, check_storable, get_runtime
from publisher.web.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND

TEMPLATES = Jinja2Templates(directory=str(FilePath(__file__).resolve().parent.parent / "templates"))
TEMPLATES.env.filters["cn_date"] = lambda v: local(v).strftime("%Y-%m-%d") if v else ""
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Year = Annotated[int, Path(ge=2000, le=2100, description="年份 / year")]
Fmt = Literal["csv", "xlsx", "json"]


def _guard(request: Request, actor: ActorDep) -> None:
    check_params(request)


api = APIRouter(
    prefix="/api/compliance", tags=["compliance"], dependencies=[Depends(_guard)], responses=ERROR_RESPONSES
)
pages = APIRouter(include_in_schema=False)


# -- deadlines and calendar -------------------------------------------------------------------------
@api.get("/deadlines", summary="公开时限 / statutory deadlines, due date first")
def list_deadlines(
    runtime: RuntimeDep,
    status: Annotated[
        Literal["open", "at_risk", "overdue", "met", "met_late"] | None, Query(description="状态 / status")
    ] = None,
) -> list[dict[str, Any]]:
    return runtime.compliance.deadlines(status)


@api.get("/deadlines/overdue", summary="逾期未公开 / the overdue list")
def list_overdue(runtime: RuntimeDep) -> list[dict[str, Any]]:
    return runtime.compliance.deadlines("overdue")


@api.get("/items/{uid}", responses=NOT_FOUND, summary="信息的时限与关联 / an item's clocks and links")
def item_compliance(
    uid: Annotated[str, Path(min_length=1, max_length=26)], runtime: RuntimeDep
) -> dict[str, Any]:
    return runtime.compliance.item(uid)


@api.get("/calendar/{year}", summary="工作日历 / the working-day calendar of a year")
def get_calendar(year: Year, runtime: RuntimeDep) -> dict[str, Any]:
    return runtime.compliance.calendar(year)


@api.put("/calendar/{year}", summary="载入官方节假日安排 / load the official schedule (ops)")
def put_calendar(
    year: Year, runtime: RuntimeDep, actor: ActorDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    check_storable(body)
    _schedule, changed, calendar = runtime.compliance.load_calendar(actor, body, year=year)
    return {"calendar": calendar, "recomputed": changed}


# -- inspection and checks --------------------------------------------------------------------------
@api.get("/inspection", summary="栏目更新监测 / age of the newest item per channel and column")
def inspection(runtime: RuntimeDep) -> list[dict[str, Any]]:
    return runtime.compliance.inspection()


@api.post("/check", summary="立即运行合规检查 / run the periodic compliance checks now (ops)")
def check(runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return runtime.compliance.run_checks(actor)


# -- applications (依申请公开 → 主动公开) ---------------------------------------------------------------
Number = Annotated[str, Path(min_length=1, max_length=60, description="申请编号 / application number")]


@api.post(
    "/applications",
    status_code=201,
    responses=CONFLICT,
    summary="登记已答复的申请 / record an answered application",
)
def record_application(
    runtime: RuntimeDep, actor: ActorDep, body: Annotated[dict[str, Any], Body()], response: Response
) -> dict[str, Any]:
    check_storable(body)
    data = runtime.compliance.record_application(actor, body)
    response.headers["Location"] = f"/api/compliance/applications/{quote(data['number'], safe='')}"
    return data


@api.get("/applications", summary="已答复的申请 / answered applications (without applicants)")
def list_applications(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    total, rows = runtime.compliance.applications(limit=limit, offset=offset)
    return {"total": total, "applications": rows}


@api.get("/applications/{number}", responses=NOT_FOUND, summary="申请详情（含申请人）/ one application")
def get_application(number: Number, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return runtime.compliance.application(actor, number)


@api.post(
    "/applications/{number}/convert",
    status_code=201,
    responses={**NOT_FOUND, **CONFLICT},
    summary="依申请转主动：生成关联的草稿 / convert into a linked draft item (editor)",
)
def convert_application(
    number: Number, runtime: RuntimeDep, actor: ActorDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    check_storable(body)
    uid = runtime.compliance.convert_application(actor, number, body)
    return {**runtime.service.item_detail(uid), "application": number}


# -- consultations ----------------------------------------------------------------------------------
@api.get("/reminders", summary="待办提醒 / open reminders (adoption reports to publish)")
def list_reminders(runtime: RuntimeDep, all: bool = False) -> list[dict[str, Any]]:
    return runtime.compliance.reminders(include_done=all)


@api.post(
    "/consultations/{uid}/adoption-report",
    status_code=201,
    responses={**NOT_FOUND, **CONFLICT},
    summary="生成采纳情况说明草稿 / a draft adoption report linked to the consultation (editor)",
)
def adoption_report(
    uid: Annotated[str, Path(min_length=1, max_length=26)],
    runtime: RuntimeDep,
    actor: ActorDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    check_storable(body or {})
    report = runtime.compliance.adoption_report(actor, uid, body or {})
    return {**runtime.service.item_detail(report), "consultation": uid}


# -- annual figures ---------------------------------------------------------------------------------
@api.get("/annual/{year}", summary="年度报告数据 / the year's figures")
def annual(year: Year, runtime: RuntimeDep) -> dict[str, Any]:
    return {"year": year, "figures": [f.__dict__ for f in runtime.compliance.annual(year)]}


# -- public pages and exports -----------------------------------------------------------------------
def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    context.setdefault("agency", _runtime(request).settings.agency.name)
    context.setdefault("labels", _runtime(request).settings.agency.labels)
    context.setdefault("feeds", [])
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    return response


def _disposition(fmt: str, name: str) -> dict[str, str]:
    # RFC 6266/5987: an ASCII fallback plus the UTF-8 file name
    disposition = (
        f'attachment; filename="{name.encode("ascii", "ignore").decode() or "export"}.{fmt}"; '
        f"filename*=UTF-8''{quote(name)}.{fmt}"
    )
    return {"Content-Disposition": disposition} if fmt != "json" else {}


def _download(data: bytes, fmt: str, name: str) -> Response:
    return Response(content=data, media_type=FORMATS[fmt], headers=_disposition(fmt, name))


def _filters(type: str | None, subject: str | None, year: str | None) -> Filters:
    if type and type not in ITEM_TYPE_LABELS:
        raise ValidationError.one("type", "没有这一类信息 / unknown item type")
    if year and not (ascii_digits(year) and 2000 <= int(year) <= 2100):
        raise ValidationError.one("year", "年份应为 2000-2100 / year must be 2000-2100")
    if subject and ("\x00" in subject or len(subject) > 100):
        raise ValidationError.one("subject", "主题分类无效 / invalid subject")
    return Filters(type=type or None, subject=subject or None, year=int(year) if year else None)


@pages.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(
    request: Request,
    type: str | None = None,
    subject: str | None = None,
    year: str | None = None,
    page: str = "1",
) -> HTMLResponse:
    runtime = _runtime(request)
    filters = _filters(type, subject, year)
    number = int(page) if ascii_digits(page) and 0 < int(page) < 100_000 else 1
    found, subjects, years = runtime.compliance.catalogue_page(filters, number)
    query = "&".join(
        f"{k}={quote(str(v))}"
        for k, v in (("type", filters.type), ("subject", filters.subject), ("year", filters.year))
        if v
    )
    return _page(
        request,
        "compliance/catalogue.html",
        {
            "rows": found.rows,
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "filters": filters,
            "query": query,
            "types": [(t.value, label) for t, label in ITEM_TYPE_LABELS.items()],
            "subjects": subjects,
            "years": years,
        },
    )


@pages.get("/catalogue.{fmt}")
def catalogue_export(
    request: Request, fmt: Fmt, type: str | None = None, subject: str | None = None, year: str | None = None
) -> Response:
    runtime = _runtime(request)
    filters = _filters(type, subject, year)
    # streamed: the rows are read a batch at a time as the file is written out, so memory stays
    # bounded at any archive size (bench/exports.py)
    rows = runtime.compliance.catalogue_stream(filters)
    table = catalogue_table(rows, runtime.settings.agency.name, runtime.settings.agency.labels.model_dump())
    extra = {
        "filters": {"type": filters.type, "subject": filters.subject, "year": filters.year},
        "generated_at": local(utcnow()).isoformat(),
    }
    return StreamingResponse(
        stream(table, fmt, **extra), media_type=FORMATS[fmt], headers=_disposition(fmt, table.title)
    )


def _fee_state(runtime: Runtime, as_of: date | None = None) -> tuple[list[Any], list[dict[str, Any]]]:
    history = runtime.compliance.fee_history(as_of)
    catalogues = []
    for key, name in CATALOGUE_KEYS.items():
        entries, notes = fee_catalogue(history, name)
        catalogues.append({"key": key, "name": name, "entries": entries, "notes": notes})
    return history, catalogues


@pages.get("/fees", response_class=HTMLResponse)
def fees_page(request: Request) -> HTMLResponse:
    runtime = _runtime(request)
    history, catalogues = _fee_state(runtime)
    base = runtime.settings.public_base_url.rstrip("/")
    feed = [
        {"type": "application/rss+xml", "title": "收费目录变动 (RSS)", "href": f"{base}/fees/changes.rss"}
    ]
    return _page(
        request,
        "compliance/fees.html",
        {
            "catalogues": catalogues,
            "history": list(reversed(history))[:50],
            "feeds": feed,
            "today": local(utcnow()).date().isoformat(),
        },
    )


@pages.get("/fees/changes.rss")
def fees_rss(request: Request) -> Response:
    runtime = _runtime(request)
    history, _ = _fee_state(runtime)
    data = changes_rss(
        history, base_url=runtime.settings.public_base_url, agency=runtime.settings.agency.name
    )
    return Response(content=data, media_type="application/rss+xml; charset=utf-8")


@pages.get("/fees/{name}.{fmt}")
def fees_export(request: Request, name: str, fmt: Fmt) -> Response:
    runtime = _runtime(request)
    history, catalogues = _fee_state(runtime)
    if name == "history":
        table = history_table(history)
        return _download(render(table, fmt), fmt, table.title)
    found = next((c for c in catalogues if c["key"] == name), None)
    if found is None:
        raise NotFoundError("没有这个收费目录 / no such fee catalogue")
    table = entries_table(found["name"], found["entries"])
    return _download(
        render(table, fmt, as_of=local(utcnow()).date().isoformat(), notes=found["notes"]), fmt, table.title
    )


@pages.get("/reports/annual/{year}.csv")
def annual_csv(request: Request, year: Year) -> Response:
    runtime = _runtime(request)
    # the public data table: what the report is made of, never internal delivery counts
    figures = [f for f in runtime.compliance.annual(year) if not f.key.startswith("deliveries.")]
    table = figures_table(year, figures)
    return _download(render(table, "csv"), "csv", table.title)


@pages.get("/reports/annual/{year}", response_class=HTMLResponse)
def annual_page(request: Request, year: Year) -> HTMLResponse:
    runtime = _runtime(request)
    return _page(
        request,
        "compliance/annual.html",
        {
            "year": year,
            "r": runtime.compliance.annual_report(year),
            "outcomes": OUTCOMES,
            "law_kinds": LAW_KINDS,
            "law_outcomes": LAW_OUTCOMES,
        },
    )


router = APIRouter()
router.include_router(api)
router.include_router(pages)

__all__ = ["router"]
