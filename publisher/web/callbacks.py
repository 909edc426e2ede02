"""Inbound provider callbacks: `GET|POST /callbacks/{channel}`.

Providers that push outcomes (WeChat's PUBLISHJOBFINISH) call this URL. The router knows no
provider: the body arrives capped (`[web] max_callback_body_bytes`, publisher/web/limits.py,
before anything here runs) and the router hands the raw request to the delivery service
(`DeliveryService.callback`), which lets the enabled channel's adapter check the signature
and parse it (a forged call gets its 403) and records each confirmation in the ledger; the
router answers with the response the adapter built. No authentication header: the
provider's signature is the authentication.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from channels.base import CallbackRequest
from publisher.runtime import Runtime
from publisher.web.deps import RuntimeDep, check_params
from publisher.web.errors import ERROR_RESPONSES, NOT_FOUND

log = logging.getLogger(__name__)

router = APIRouter(tags=["callbacks"])


RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"description": "签名无效，已拒绝 / bad signature, refused"},
    413: {"description": "回调内容过大 / body too large"},
    422: ERROR_RESPONSES[422],
}


async def _answer(channel: str, request: Request, runtime: Runtime) -> Response:
    check_params(request)
    call = CallbackRequest(
        method=request.method,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=await request.body(),
    )
    result = await run_in_threadpool(runtime.deliveries.callback, channel, call)
    return Response(content=result.body, status_code=result.status, media_type=result.content_type)


@router.get(
    "/callbacks/{channel}",
    summary="回调地址验证 / callback URL verification (e.g. WeChat echostr)",
    responses=RESPONSES,
)
async def verify_callback(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    return await _answer(channel, request, runtime)


@router.post(
    "/callbacks/{channel}",
    summary="渠道回调 / provider push (e.g. WeChat PUBLISHJOBFINISH)",
    responses=RESPONSES,
)
async def receive_callback(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    return await _answer(channel, request, runtime)
