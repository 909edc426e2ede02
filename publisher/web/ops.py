"""Delivery operations for ops over HTTP: list and inspect deliveries, replay one or a
channel's failed deliveries in a time window, pause and resume a channel, see each channel's
state. Handlers call publisher.delivery.service (which checks the ops role for every action
and audits it); reads are guarded here with the ops role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.item import DeliveryState
from publisher.domain.permissions import Permission
from publisher.editorial.auth import Actor
from publisher.runtime import Runtime
from publisher.web.deps import ActorDep, get_runtime
from publisher.web.errors import ERROR_RESPONSES, NOT_FOUND

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="投递编号 / delivery id")]


def _ops(actor: ActorDep) -> Actor:
    actor.require(Permission.DELIVERY_READ)
    return actor


OpsDep = Annotated[Actor, Depends(_ops)]
router = APIRouter(prefix="/api", tags=["ops"], responses=ERROR_RESPONSES)


class PauseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="原因 / reason")


class WindowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    since: datetime | None = Field(default=None, description="失败时间不早于 / failed at or after (ISO 8601)")
    until: datetime | None = Field(
        default=None, description="失败时间不晚于 / failed at or before (ISO 8601)"
    )


@router.get("/deliveries", summary="投递列表 / list deliveries")
def list_deliveries(
    runtime: RuntimeDep,
    actor: OpsDep,
    state: Annotated[DeliveryState | None, Query(description="状态 / state")] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    total, rows = runtime.deliveries.listing(
        state=state.value if state else None, channel=channel, limit=limit, offset=offset
    )
    return {"total": total, "deliveries": rows}


@router.get(
    "/deliveries/{delivery_id}",
    responses=NOT_FOUND,
    summary="投递详情与每次尝试 / a delivery with its attempts",
)
def get_delivery(delivery_id: DeliveryId, runtime: RuntimeDep, actor: OpsDep) -> dict[str, Any]:
    return runtime.deliveries.get(delivery_id)


@router.post(
    "/deliveries/{delivery_id}/replay",
    responses=NOT_FOUND,
    summary="重放失败的投递 / replay a failed delivery",
)
def replay(delivery_id: DeliveryId, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return {"replayed": runtime.deliveries.replay(actor, delivery_id)}


@router.post(
    "/deliveries/{delivery_id}/release",
    responses=NOT_FOUND,
    summary="放行审批时排除的投递（审批人；先重新预检）/ release a delivery excluded at approval "
    "(approver; the channel's pre-flight runs again)",
)
def release(delivery_id: DeliveryId, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return {"released": runtime.deliveries.release_excluded(actor, delivery_id)}


@router.post(
    "/channels/{channel}/replay-failed",
    summary="重放渠道在时间窗内的失败投递 / replay a channel's failed deliveries",
)
def replay_failed(channel: str, body: WindowBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return {"replayed": runtime.deliveries.replay_failed(actor, channel, body.since, body.until)}


@router.post("/channels/{channel}/retry-now", summary="等待重试的投递立即到期 / make waiting retries due now")
def retry_now(channel: str, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return {"due_now": runtime.deliveries.retry_now(actor, channel)}


@router.post("/channels/{channel}/pause", summary="暂停渠道 / pause a channel")
def pause(channel: str, body: PauseBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return runtime.deliveries.pause(actor, channel, body.reason)


@router.post("/channels/{channel}/resume", summary="恢复渠道 / resume a channel")
def resume(channel: str, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    status, released = runtime.deliveries.resume(actor, channel)
    return {**status, "released": len(released)}


@router.get("/channels", summary="各渠道状态 / channel states")
def channels(runtime: RuntimeDep, actor: OpsDep) -> list[dict[str, Any]]:
    return runtime.deliveries.channel_states()


# -- post-publication inspection (docs/operations.md) -------------------------------------------
DriftId = Annotated[int, Path(ge=1, le=2**62, description="偏差记录编号 / drift record id")]


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="原因（记入审计）/ reason (audited)")


@router.get("/drifts", summary="在线副本偏差记录 / drift records of live copies")
def list_drifts(
    runtime: RuntimeDep,
    actor: OpsDep,
    all: Annotated[bool, Query(description="含已处理的 / resolved ones too")] = False,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    item: Annotated[str | None, Query(max_length=100, description="uid 或 ref / uid or ref")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"drifts": runtime.deliveries.drifts(open_only=not all, channel=channel, item=item, limit=limit)}


@router.post(
    "/drifts/{drift_id}/repush",
    responses=NOT_FOUND,
    summary="重新投递偏差副本的版本（正常投递）/ send the drifted copy's version again",
)
def repush(drift_id: DriftId, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return {"queued": runtime.deliveries.repush(actor, drift_id)}


@router.post(
    "/drifts/{drift_id}/accept",
    responses=NOT_FOUND,
    summary="接受偏差，保留副本现状（记入审计）/ accept a drift, leave the copy as it is (audited)",
)
def accept_drift(drift_id: DriftId, body: AcceptBody, runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return runtime.deliveries.accept_drift(actor, drift_id, body.reason)
