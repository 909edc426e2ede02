"""`/metrics` (Prometheus text format, read from the store on scrape) and `/readyz`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from publisher.observe.health import readiness
from publisher.web.pages.common import runtime_of

router = APIRouter(include_in_schema=False)


@router.get("/metrics", summary="Prometheus 指标 / Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/readyz",
    summary="就绪检查：数据库、消息代理、执行器心跳 / readiness: database, broker, worker heartbeat",
)
def readyz(request: Request) -> JSONResponse:
    ok, checks = readiness(runtime_of(request))
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )
