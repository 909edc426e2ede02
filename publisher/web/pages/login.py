"""Login and logout. The login form is protected by a double-submit cookie (there is no
session yet to hold a CSRF token); a successful login starts a fresh session."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from publisher.domain.errors import ThrottledError
from publisher.domain.item import Role
from publisher.editorial.queues import work_queues
from publisher.web.pages.common import (
    PostDep,
    SessionDep,
    actor_of,
    redirect,
    render,
    runtime_of,
    sessions_of,
)
from publisher.web.pages.sessions import COOKIE, LOGIN_COOKIE

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    # only local paths under /app: never an open redirect to another host
    if value and value.startswith("/app") and not value.startswith("//") and "\\" not in value:
        return value
    return "/app/"


async def _login_form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


LoginForm = Annotated[dict[str, str], Depends(_login_form)]


def _login_page(
    request: Request, next_url: str, error: str | None = None, name: str = "", status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "app/login.html",
        {"next": next_url, "error": error, "name": name, "login_csrf": token},
        None,
        status,
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/app/login")
    return response


@router.get("/app/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, _safe_next(next))


@router.post("/app/login")
def login(request: Request, form: LoginForm) -> Response:
    next_url = _safe_next(form.get("next"))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, form.get("csrf", "")):
        return _login_page(
            request, next_url, "登录表单已过期，请重试 / the form expired, try again", status=403
        )
    name = form.get("name", "").strip()[:64]
    address = request.client.host if request.client else "unknown"
    try:
        found = runtime_of(request).service.login(name, form.get("password", "")[:1024], address)
    except ThrottledError as exc:
        page = _login_page(request, next_url, exc.message, name, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if found is None:
        return _login_page(request, next_url, "用户名或密码错误 / wrong name or password", name, status=401)
    actor, epoch = found
    session = sessions_of(request).create(actor.id, actor.name, actor.role, epoch)
    response = redirect(next_url)
    response.set_cookie(
        COOKIE, sessions_of(request).sign(session.sid), httponly=True, samesite="lax", path="/"
    )
    response.delete_cookie(LOGIN_COOKIE, path="/app/login")
    return response


@router.post("/app/logout")
def logout(request: Request, post: PostDep) -> Response:
    sessions_of(request).drop(post.session.sid)
    response = redirect("/app/login")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/app/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    if session.role in (Role.OPS, Role.SYSADMIN):
        return redirect("/app/ops")
    if session.role is Role.AUDITOR:
        return redirect("/app/ops/audit")
    queues = work_queues(runtime_of(request).service, actor_of(session))
    if not queues:
        return redirect("/app/items")
    return render(request, "app/home.html", {"queues": queues}, session)
