"""Server-rendered pages for editors (`/app/items…`) and ops (`/app/ops…`), plus `/metrics`
and `/readyz`. Listed once in `publisher.web.app.ROUTER_MODULES`; `install` adds what is not
a route: the static files, the in-memory session store, the metrics registry, and the
handlers that turn a missing login into a redirect and a bad CSRF token into a 403 page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from publisher.observe.metrics import registry_for
from publisher.web.pages import alerts, approval, drifts, items, login, observe, ops, reports
from publisher.web.pages.common import (
    CsrfRejected,
    LoginRequired,
    current_session,
    login_url,
    redirect,
    render,
)
from publisher.web.pages.sessions import SessionStore

STATIC = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(include_in_schema=False)
router.include_router(login.router)
router.include_router(items.router)
router.include_router(ops.router)
router.include_router(drifts.router)
router.include_router(approval.router)
router.include_router(reports.router)
router.include_router(alerts.router)
router.include_router(observe.router)  # out of the OpenAPI document: /readyz answers 503 by design


def install(app: FastAPI) -> None:
    app.state.page_sessions = SessionStore()
    runtime = app.state.runtime
    app.state.metrics_registry = registry_for(runtime.db, runtime.settings)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return redirect(login_url(exc.next_url))

    async def csrf_rejected(request: Request, exc: Exception) -> HTMLResponse:
        try:
            session = current_session(request)
        except LoginRequired:
            session = None
        return render(
            request,
            "app/error.html",
            {
                "title": "表单已过期",
                "message": "表单已过期或来源不明，请刷新页面后重试 / the form expired or did not come "
                "from this site: reload the page and try again",
            },
            session,
            403,
        )

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)


__all__ = ["install", "router"]
