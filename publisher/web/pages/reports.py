"""The annual report's editing page (`/app/reports/annual/{year}`): what the report needs and
the service cannot know, entered by editors and approvers; the public report
(`/reports/annual/{year}`) shows it at once. Saving goes through the compliance service,
which checks the role, validates each field and audits only what changed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from publisher.compliance.report import LAW_KINDS, LAW_OUTCOMES, MONEY, NUMBERS, TEXTS
from publisher.domain.clock import local, utcnow
from publisher.domain.errors import AuthError, PermissionDeniedError, ValidationError
from publisher.domain.permissions import Permission
from publisher.web.pages.common import (
    PostDep,
    SessionDep,
    allowed,
    flash,
    forbidden,
    redirect,
    render,
    runtime_of,
)
from publisher.web.pages.sessions import PageSession

router = APIRouter(include_in_schema=False)
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _context(year: int, report: object, values: dict[str, str], errors: dict[str, str]) -> dict[str, object]:
    return {
        "year": year,
        "r": report,
        "values": values,
        "errors": errors,
        "texts": TEXTS,
        "numbers": {k: v for k, v in NUMBERS.items() if not k.startswith(tuple(LAW_KINDS))},
        "money": MONEY,
        "law_kinds": LAW_KINDS,
        "law_outcomes": LAW_OUTCOMES,
    }


def _bad_year(request: Request, session: PageSession, year: int) -> Response | None:
    if FIRST_YEAR <= year <= LAST_YEAR:
        return None
    return render(
        request,
        "app/error.html",
        {"title": "年份无效", "message": f"年份应在 {FIRST_YEAR} 到 {LAST_YEAR} 之间"},
        session,
        422,
    )


@router.get("/app/reports/annual", response_class=HTMLResponse)
def this_years_report(session: SessionDep) -> Response:
    # the report being written in January is last year's
    return redirect(f"/app/reports/annual/{local(utcnow()).year - 1}")


@router.get("/app/reports/annual/{year}", response_class=HTMLResponse)
def edit_report(request: Request, year: int, session: SessionDep) -> Response:
    bad = _bad_year(request, session, year)
    if bad is not None:
        return bad
    if not allowed(session, Permission.ITEM_EDIT, Permission.ITEM_APPROVE):
        return forbidden(request, session, "只有编辑和审批人可以填写年度报告")
    report = runtime_of(request).compliance.annual_report(year)
    values = {k: str(v) for k, v in report.inputs.items()}
    return render(request, "app/report_edit.html", _context(year, report, values, {}), session)


@router.post("/app/reports/annual/{year}", response_class=HTMLResponse)
def save_report(request: Request, year: int, post: PostDep) -> Response:
    bad = _bad_year(request, post.session, year)
    if bad is not None:
        return bad
    compliance = runtime_of(request).compliance
    try:
        compliance.save_annual_report(post.actor, year, post.form)
    except (AuthError, PermissionDeniedError):
        return forbidden(request, post.session, "只有编辑和审批人可以填写年度报告")
    except ValidationError as exc:
        errors = {e.field: e.message for e in exc.errors}
        report = compliance.annual_report(year)
        return render(
            request, "app/report_edit.html", _context(year, report, post.form, errors), post.session, 422
        )
    flash(post.session, "ok", f"{year}年年度报告已保存，公开页面已更新")
    return redirect(f"/app/reports/annual/{year}")


__all__ = ["router"]
