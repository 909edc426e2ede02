"""One error shape for every HTTP response that is not a success.

    {"errors": [{"field": "...", "message": "中文 / English"}]}            401 403 404 405 422 500
    {"errors": [{"field": "state", "message": "..."}], "current_state": "..."}          409

A browser asking for a public page (GET, `Accept: text/html`, outside /api, /app and
/callbacks) gets the same status as a Chinese page instead (`publisher.web.public.error_page`).

Our own `PublisherError`s, FastAPI's request validation (including malformed JSON bodies),
Starlette's HTTP errors (unknown path, wrong method) and anything unexpected all end here,
so clients and the fuzzer never see FastAPI's default shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from publisher.domain.errors import (
    AuthError,
    FieldError,
    PublisherError,
    ThrottledError,
    TransitionError,
    ValidationError,
)
from publisher.domain.validation import MESSAGES as PYDANTIC_MESSAGES

log = logging.getLogger(__name__)


class ErrorEntry(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error response: one entry per problem, messages Chinese first."""

    errors: list[ErrorEntry]


class ConflictBody(ErrorBody):
    """409: the action is not allowed in the item's current state."""

    current_state: str


def _responses() -> dict[int | str, dict[str, Any]]:
    return {
        401: {"model": ErrorBody, "description": "缺少或无效的令牌 / missing or invalid bearer token"},
        403: {
            "model": ErrorBody,
            "description": "角色不符或不能批准自己的信息 / wrong role or maker-checker",
        },
        422: {"model": ErrorBody, "description": "输入有误，逐字段列出 / invalid input, one entry per field"},
    }


# Routers pass these as `responses=` so the OpenAPI document describes our error shape
# (and FastAPI does not add its default 422 schema).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = _responses()
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "未找到 / not found"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ConflictBody, "description": "当前状态不允许该操作 / not allowed in the current state"},
}

_FIELD_OF_STATUS = {401: "authorization", 403: "actor", 404: "path", 405: "method"}
_BOUNDS = {
    "greater_than_equal": ("ge", "应不小于", "must be at least"),
    "greater_than": ("gt", "应大于", "must be greater than"),
    "less_than_equal": ("le", "应不大于", "must be at most"),
    "less_than": ("lt", "应小于", "must be less than"),
    "string_too_long": ("max_length", "长度不能超过", "length must be at most"),
}
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def error_body(errors: Sequence[FieldError], **extra: Any) -> dict[str, Any]:
    return {"errors": [e.as_dict() for e in errors], **extra}


def request_field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """FastAPI/pydantic error dicts → our bilingual field errors, named without the location
    prefix ("reason", not "body.reason")."""
    out: list[FieldError] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        kind = str(err.get("type", ""))
        ctx = err.get("ctx") or {}
        if kind == "json_invalid":
            detail = ctx.get("error", "")
            out.append(FieldError("body", f"请求体不是有效的 JSON（{detail}） / malformed JSON body"))
            continue
        field = ".".join(loc) or "body"
        if kind == "value_error":
            message = str(ctx.get("error", err.get("msg", "")))
        elif kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
            key, zh, en = _BOUNDS[kind]
            message = f"{zh} {ctx[key]} / {en} {ctx[key]}"
        else:
            message = PYDANTIC_MESSAGES.get(kind, f"取值无效 / invalid value ({err.get('msg', '')})")
            if kind in ("enum", "literal_error") and ctx.get("expected"):
                message = f"取值不在允许范围 / not one of the allowed values: {ctx['expected']}"
        out.append(FieldError(field, message))
    return out or [FieldError("body", "请求无效 / invalid request")]


def _json(
    status: int, errors: Sequence[FieldError], headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(errors, **extra), status_code=status, headers=headers)


_NOT_PAGES = ("/api/", "/app/", "/callbacks/", "/static/", "/feeds/", "/metrics", "/readyz", "/healthz")
_FIELD_NAMES = {
    "year": "年份",
    "type": "类别",
    "page": "页码",
    "subject": "主题分类",
    "path": "地址",
    "fmt": "格式",
}


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return (
        request.method in ("GET", "HEAD")
        and not path.startswith(_NOT_PAGES)
        and "text/html" in request.headers.get("accept", "")
    )


def _page(request: Request, status: int, errors: Sequence[FieldError]) -> HTMLResponse:
    from publisher.web.public import error_page  # the public pages import this module's app

    lines = []
    for e in errors:
        chinese = e.message.split(" / ", 1)[0]
        name = _FIELD_NAMES.get(e.field.rsplit(".", 1)[-1])
        lines.append(f"{name}：{chinese}" if name and status == 422 else chinese)
    return error_page(request, status, "；".join(lines) or "请求无效")


def publisher_error_response(exc: PublisherError) -> JSONResponse:
    if isinstance(exc, ValidationError):
        return _json(422, exc.errors)
    if isinstance(exc, TransitionError):
        return _json(409, [FieldError("state", exc.message)], current_state=exc.current_state)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
    if isinstance(exc, ThrottledError):
        headers = {"Retry-After": str(exc.retry_after)}
    return _json(exc.status, [FieldError(_FIELD_OF_STATUS.get(exc.status, "request"), exc.message)], headers)


async def _on_publisher_error(request: Request, exc: Exception) -> JSONResponse | HTMLResponse:
    assert isinstance(exc, PublisherError)
    if _wants_page(request):
        errors = exc.errors if isinstance(exc, ValidationError) else [FieldError("request", exc.message)]
        return _page(request, 422 if isinstance(exc, ValidationError) else exc.status, errors)
    return publisher_error_response(exc)


async def _auth_problem(request: Request) -> AuthError | None:
    """Authentication comes before input validation on /api: FastAPI parses the body before
    it runs dependencies, so a bad body with a bad token would otherwise say 422, not 401."""
    if not request.url.path.startswith("/api/"):
        return None
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        await run_in_threadpool(
            runtime.service.authenticate, token.strip() if scheme.lower() == "bearer" else None
        )
    except AuthError as exc:
        return exc
    return None


def _wants_app_page(request: Request) -> bool:
    """A browser asking for an editor/ops page (GET /app/..., Accept: text/html) whose path or
    query did not parse: a Chinese page, like the public pages, not the API's JSON."""
    return (
        request.method in ("GET", "HEAD")
        and request.url.path.startswith("/app/")
        and "text/html" in request.headers.get("accept", "")
    )


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse | HTMLResponse:
    assert isinstance(exc, RequestValidationError)
    if _wants_page(request) or _wants_app_page(request):
        return _page(request, 422, request_field_errors(exc.errors()))
    problem = await _auth_problem(request)
    if problem is not None:
        return publisher_error_response(problem)
    return _json(422, request_field_errors(exc.errors()))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse | HTMLResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405) and _wants_page(request):
        message = "您访问的页面不存在。" if exc.status_code == 404 else "不支持该请求方法。"
        return _page(request, exc.status_code, [FieldError("path", message)])
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
        # FastAPI's "error parsing the body" (e.g. not UTF-8): bad input like any other
        problem = await _auth_problem(request)
        if problem is not None:
            return publisher_error_response(problem)
        return _json(
            422,
            [FieldError("body", "请求体无法解析（须为 UTF-8 编码的 JSON） / body cannot be parsed as JSON")],
        )
    if exc.status_code == 404:
        message = "未找到 / not found"
    elif exc.status_code == 405:
        message = "不支持该请求方法 / method not allowed"
        headers["Allow"] = ", ".join(_allowed_methods(request))
    else:
        message = str(exc.detail)
    field = _FIELD_OF_STATUS.get(exc.status_code, "request")
    return _json(exc.status_code, [FieldError(field, message)], headers or None)


def _allowed_methods(request: Request) -> list[str]:
    # Starlette names only the first route matching the path; several routes share a path
    # here (GET and POST /api/items), so ask every route about every method.
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value (PostgreSQL SQLSTATE class 22): input we failed to
    # reject earlier. The transaction was rolled back, so nothing was half-written.
    log.warning("database rejected a value on %s %s: %s", request.method, request.url.path, exc)
    return _json(
        422, [FieldError("body", "数据无法保存（含无效字符或超出范围）/ value rejected by the store")]
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, [FieldError("server", "服务器内部错误，已记录 / internal error, logged")])


def install(app: FastAPI) -> None:
    app.add_exception_handler(PublisherError, _on_publisher_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected)


__all__ = [
    "CONFLICT",
    "ERROR_RESPONSES",
    "NOT_FOUND",
    "ConflictBody",
    "ErrorBody",
    "ErrorEntry",
    "error_body",
    "install",
    "publisher_error_response",
    "request_field_errors",
]
