"""The web application: one FastAPI app for the JSON API, the public pages and ops.

`create_app(runtime)` builds it around an already-built `Runtime` (the CLI's `serve` and the
tests build the runtime; the app never builds its own store). Routers live in their own
modules and are listed in `ROUTER_MODULES`; each module exposes `router: fastapi.APIRouter`
and may also define `install(app: FastAPI) -> None` for anything that is not a route (static
files, middleware). A listed module that does not exist yet is skipped, so adding a router is
one line here. Shared dependencies (runtime, service, authenticated actor) are in
`publisher.web.deps`; the error shape every router gets for free is in `publisher.web.errors`.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from publisher.runtime import Runtime
from publisher.web import accesslog, errors
from publisher.web.headers import SecurityHeaders
from publisher.web.limits import BodyLimit

log = logging.getLogger(__name__)

ROUTER_MODULES: tuple[str, ...] = (
    "publisher.web.api",  # /api: items, workflow actions, deliveries, audit
    "publisher.web.ops",  # /api/ops: delivery operations (replay, channels)
    "publisher.web.public",  # public pages and feeds
    "publisher.web.callbacks",  # /callbacks/{channel}: provider pushes (WeChat events)
    "publisher.web.pages",  # /app: editor and ops pages; /metrics, /readyz
    "publisher.compliance.routes",  # /api/compliance; /catalogue, /fees, /reports/annual
    "publisher.web.checks",  # /api/check, /api/items/{uid}/check, /api/checks/*: content checks
    "publisher.web.users",  # /api/users: accounts, roles, tokens, passwords (secadmin)
)


class Health(BaseModel):
    status: str


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # the module itself is not written yet; a missing import inside it is a bug
            log.debug("router module %s not present; skipped", name)
            return None
        raise


def _version() -> str:
    try:
        return version("publisher")
    except PackageNotFoundError:
        return "0"


def create_app(runtime: Runtime, *, routers: tuple[str, ...] = ROUTER_MODULES) -> FastAPI:
    app = FastAPI(
        title="publisher",
        version=_version(),
        description="一次发布，多渠道投递 / publish once, deliver everywhere. See docs/api.md.",
    )
    app.state.runtime = runtime
    errors.install(app)
    accesslog.install()
    # innermost of the two: a refused body still gets the security headers
    app.add_middleware(
        BodyLimit,
        max_body_bytes=runtime.settings.web.max_body_bytes,
        max_callback_body_bytes=runtime.settings.web.max_callback_body_bytes,
    )
    # Secure cookies when the public address is https (behind a TLS-terminating proxy the
    # request itself looks like http, so the configured address decides).
    app.add_middleware(
        SecurityHeaders, secure_cookies=runtime.settings.public_base_url.lower().startswith("https://")
    )

    @app.get("/healthz", response_model=Health, summary="存活检查 / liveness", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for name in routers:
        module = _load(name)
        if module is None:
            continue
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            app.include_router(router)
        install = getattr(module, "install", None)
        if callable(install):
            install(app)
    return app
