"""The JSON API under /api: items, their workflow actions, deliveries and the audit log.

Every endpoint needs `Authorization: Bearer <token>`; roles and maker-checker are enforced by
the service, so the API and the CLI refuse exactly the same things. Endpoints are plain
`def`: service calls are synchronous and touch the database, so they run in the threadpool.
The contract is documented in docs/api.md; extend it, don't break it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.errors import ValidationError
from publisher.domain.item import ItemIn, ItemState, ItemType, Validity
from publisher.domain.permissions import Permission
from publisher.editorial.paging import Cursor
from publisher.web.deps import ActorDep, ServiceDep, check_params, check_storable
from publisher.web.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND


def _guard(request: Request, actor: ActorDep) -> None:
    # authentication first, then the NUL check on path and query parameters
    check_params(request)


router = APIRouter(prefix="/api", dependencies=[Depends(_guard)], responses=ERROR_RESPONSES)


# -- request bodies ---------------------------------------------------------------------------
class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="理由 / reason", examples=["文号有误"])


class AbolishBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    on: date = Field(
        alias="date", description="废止/失效日期 YYYY-MM-DD / date of the change", examples=["2019-12-20"]
    )
    by: str | None = Field(
        default=None,
        max_length=100,
        description="废止它的信息（uid 或 ref）/ the abolishing item (uid or ref)",
    )
    validity: Literal["已废止", "已失效", "已修订"] = Field(
        default="已废止", description="新的有效性 / new validity"
    )


ITEM_EXAMPLES: dict[str, Any] = {
    "policy": {
        "summary": "政策文件 / a policy",
        "value": {
            "ref": "policy-2026-12",
            "type": "policy",
            "title": "关于进一步规范财政资金管理的通知",
            "issue_date": "2026-11-20",
            "doc_number": "沪财预[2026]12号",
            "subject": "财政\\预算",
            "disclosure": "主动公开",
            "validity": "有效",
            "keywords": ["财政资金"],
            "description": "规范财政资金管理。",
            "body_html": "<p>正文。</p>",
        },
    },
    "procurement_result": {
        "summary": "政府采购结果 / a procurement result",
        "value": {
            "ref": "proc-2019-001",
            "type": "procurement_result",
            "title": "某信息化运维服务项目中标结果公告（示例）",
            "issue_date": "2019-05-20",
            "subject": "财政\\政府采购",
            "description": "公布示例采购项目的中标供应商和中标金额。",
            "procurement": {
                "project_number": "SH-2019-EXAMPLE-001",
                "purchaser": "上海市财政局",
                "supplier": "示例供应商有限公司",
                "amount_yuan": "1280000.00",
                "award_date": "2019-05-15",
                "method": "公开招标",
            },
            "body_html": "<p>中标金额：人民币1,280,000.00元</p>",
        },
    },
}

ITEM_BODY_DESCRIPTION = (
    "一条信息，与 publisher/data/items.json 中的样例同形 / an item in the shape of the sample fixtures. "
    "Validated by the service (publisher.domain.item.ItemIn): unknown fields, a bad 文号, a missing title or a "
    "date not in YYYY-MM-DD form are 422 errors naming the field."
)


# -- responses --------------------------------------------------------------------------------
class VersionOut(BaseModel):
    number: int
    content_hash: str
    reason: str
    created_at: str


class ItemSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    uid: str
    ref: str | None
    type: str
    state: str
    title: str
    index_number: str | None
    doc_number: str | None
    issue_date: str | None
    issuing_body: str | None
    subject: str | None
    validity: str
    validity_changed_on: str | None
    release_group: str | None
    publish_at: str | None
    published_at: str | None
    live_version: int | None
    delivery_status: str = Field(description="pending / published / partially_published / withdrawn / draft")
    channels: dict[str, str] = Field(description="每个渠道最新投递的状态 / latest delivery state per channel")
    updated_at: str


class AbolishTarget(BaseModel):
    uid: str
    title: str
    doc_number: str | None
    index_number: str | None
    validity: str | None = None


class ItemDetail(ItemSummary):
    content: dict[str, Any]
    reject_reason: str | None
    withdraw_reason: str | None
    abolished_by: str | None
    versions: list[VersionOut]
    abolishes_targets: list[AbolishTarget] = Field(
        default_factory=list,
        description="批准发布后将被废止的信息（标题、文号、索取号）/ what this item abolishes when released",
    )
    approval_etag: str | None = Field(
        default=None,
        description="批准时以 If-Match 带回 / send back as If-Match when approving (also the ETag header)",
    )


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exclude: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=20,
        description="不投递的渠道：只有它们的预检问题时仍可批准，其投递记为 excluded，可稍后放行 / channels "
        "left out: their own pre-flight problems then do not refuse the approval; their deliveries "
        "wait as `excluded` until released (POST /api/deliveries/{id}/release)",
    )
    exclude_reason: str | None = Field(
        default=None,
        max_length=500,
        description="排除渠道的理由，记入投递与审计日志 / why the channels are left out (kept with the "
        "deliveries and in the audit log)",
    )


class ApproveOut(ItemDetail):
    released: list[str] = Field(
        description="一并批准的信息（发布组）/ uids approved together (release group)"
    )
    abolished: list[AbolishTarget] = Field(
        default_factory=list, description="本次批准废止的信息 / what this approval abolished"
    )


class ItemList(BaseModel):
    total: int = Field(
        description="符合条件的条数；total_capped 时为下限 / matching items; a lower bound when total_capped"
    )
    total_capped: bool = Field(
        description="按搜索或有效性筛选时最多数到 1000 条 / a search or validity filter counts up to 1,000"
    )
    limit: int
    offset: int
    next: str | None = Field(
        description="下一页的游标，作为 after 传回；没有更多时为 null / pass as `after` for the next page; null at the end"
    )
    items: list[ItemSummary]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    channel: str
    operation: str
    version: int | None
    state: str
    attempts: int
    external_id: str | None
    url: str | None
    last_error: str | None


class AuditEventOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int
    at: str
    actor: str
    action: str
    item: str | None
    version_hash: str | None
    reason: str | None
    data: dict[str, Any] | None
    hash: str


class AuditProblemOut(BaseModel):
    seq: int
    problem: str


class AuditVerifyOut(BaseModel):
    checked: int
    intact: bool
    problems: list[AuditProblemOut]


UidPath = Annotated[str, Field(min_length=1, max_length=100)]
ItemBody = Annotated[dict[str, Any], Body(description=ITEM_BODY_DESCRIPTION, openapi_examples=ITEM_EXAMPLES)]


# -- items ------------------------------------------------------------------------------------
@router.post(
    "/items", status_code=201, response_model=ItemDetail, summary="新建信息 / create an item (draft)"
)
def create_item(body: ItemBody, response: Response, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body)
    item = service.create_item(actor, body)
    response.headers["Location"] = f"/api/items/{item.uid}"
    return service.item_detail(item.uid)


@router.get("/items", response_model=ItemList, summary="信息列表 / list items")
def list_items(
    service: ServiceDep,
    type: Annotated[ItemType | None, Query(description="信息类型 / item type")] = None,
    state: Annotated[ItemState | None, Query(description="状态 / workflow state")] = None,
    validity: Annotated[Validity | None, Query(description="有效性 / validity")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="标题、索取号或 ref 包含 / title, index number or ref contains"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    after: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^[0-9]{1,18}\.[0-9]{1,18}$",
            description="上一页返回的 next（键集分页，代替 offset）/ the previous page's `next` (keyset, instead of offset)",
        ),
    ] = None,
) -> dict[str, Any]:
    cursor = Cursor.decode(after) if after else None
    if after and cursor is None:
        raise ValidationError.one("after", "不是有效的分页位置 / not a valid page cursor")
    listing = service.item_listing(
        type=type.value if type else None,
        state=state.value if state else None,
        validity=validity.value if validity else None,
        q=q or None,
        limit=limit,
        offset=offset,
        after=cursor,
    )
    return {
        "total": listing.total,
        "total_capped": listing.capped,
        "limit": limit,
        "offset": offset,
        "next": listing.next,
        "items": listing.items,
    }


@router.get("/items/{uid}", response_model=ItemDetail, responses=NOT_FOUND, summary="信息详情 / one item")
def get_item(uid: UidPath, service: ServiceDep, response: Response) -> dict[str, Any]:
    detail = service.item_detail(uid)
    response.headers["ETag"] = f'"{detail["approval_etag"]}"'
    return detail


@router.patch(
    "/items/{uid}",
    response_model=ItemDetail,
    responses={**NOT_FOUND, **CONFLICT},
    summary="修改信息 / edit an item (a live item starts a revision)",
)
def update_item(uid: UidPath, body: ItemBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body)
    service.update_item(actor, uid, body)
    return service.item_detail(uid)


# -- workflow actions -------------------------------------------------------------------------
ACTION_RESPONSES = {**NOT_FOUND, **CONFLICT}


@router.post(
    "/items/{uid}/submit",
    summary="提交审查 / submit for review (editor)",
    response_model=ItemDetail,
    responses=ACTION_RESPONSES,
)
def submit(uid: UidPath, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    service.submit(actor, uid)
    return service.item_detail(uid)


@router.post(
    "/items/{uid}/review",
    summary="保密审查通过 / confidentiality review passed (reviewer)",
    response_model=ItemDetail,
    responses=ACTION_RESPONSES,
)
def review(uid: UidPath, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    service.review(actor, uid)
    return service.item_detail(uid)


@router.post(
    "/items/{uid}/approve",
    response_model=ApproveOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="批准发布 / approve (approver; never the author; a release group is approved together)",
)
def approve(
    uid: UidPath,
    service: ServiceDep,
    actor: ActorDep,
    body: Annotated[ApproveBody | None, Body()] = None,
    if_match: Annotated[
        str | None,
        Header(
            max_length=100,
            description="GET /api/items/{uid} 的 ETag：批准的正是所看到的 / the ETag the approver saw",
        ),
    ] = None,
) -> dict[str, Any]:
    outcome = service.approve(
        actor,
        uid,
        exclude=body.exclude if body else (),
        exclude_reason=body.exclude_reason if body else None,
        seen=if_match,
    )
    return {
        **service.item_detail(uid),
        "released": [m.uid for m in outcome.items],
        "abolished": outcome.abolished,
    }


@router.post(
    "/items/{uid}/reject",
    summary="退回 / reject with a reason (reviewer, approver)",
    response_model=ItemDetail,
    responses=ACTION_RESPONSES,
)
def reject(uid: UidPath, body: ReasonBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump())
    service.reject(actor, uid, body.reason)
    return service.item_detail(uid)


@router.post(
    "/items/{uid}/abolish",
    summary="废止或失效 / abolish or expire (approver)",
    response_model=ItemDetail,
    responses=ACTION_RESPONSES,
)
def abolish(uid: UidPath, body: AbolishBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump(by_alias=True, mode="json"))
    service.abolish(actor, uid, on=body.on, by=body.by, validity=body.validity)
    return service.item_detail(uid)


@router.post(
    "/items/{uid}/withdraw",
    summary="撤回 / withdraw from every channel (approver)",
    response_model=ItemDetail,
    responses=ACTION_RESPONSES,
)
def withdraw(uid: UidPath, body: ReasonBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    check_storable(body.model_dump())
    service.withdraw(actor, uid, body.reason)
    return service.item_detail(uid)


# -- deliveries and audit ---------------------------------------------------------------------
@router.get(
    "/items/{uid}/deliveries",
    response_model=list[DeliveryOut],
    responses=NOT_FOUND,
    summary="投递记录 / the item's deliveries, oldest first",
)
def deliveries(uid: UidPath, service: ServiceDep) -> list[dict[str, Any]]:
    return service.deliveries(uid)


@router.get("/audit", response_model=list[AuditEventOut], summary="审计日志 / audit events, in order")
def audit(
    service: ServiceDep,
    item: Annotated[str | None, Query(max_length=100, description="只看某条信息 / one item's uid")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> list[dict[str, Any]]:
    return service.audit_events(item or None, limit=limit, offset=offset)


@router.get(
    "/audit/verify",
    response_model=AuditVerifyOut,
    summary="校验审计日志哈希链 / verify the audit hash chain (ops, admin)",
)
def audit_verify(service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    actor.require(Permission.AUDIT_READ)
    checked, problems = service.verify_audit()
    return {
        "checked": checked,
        "intact": not problems,
        "problems": [{"seq": p.seq, "problem": p.problem} for p in problems],
    }


# -- OpenAPI: the item body -------------------------------------------------------------------
def install(app: FastAPI) -> None:
    """Describe the item bodies with the schema the service validates against (ItemIn).

    The endpoints take a plain JSON object so that every validation error comes from one
    place, the service, in our field-error shape; the document still tells clients (and the
    fuzzer) the real shape. Rules across fields (type-specific data, the 文号 format, unique
    refs) are not expressible here and are 422s from the service."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        if "Item" not in schemas:
            add_item_schemas(doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def add_item_schemas(doc: dict[str, Any]) -> None:
    schema = ItemIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = doc["components"]["schemas"]
    schemas.update(schema.pop("$defs", {}))
    schema["title"] = "Item"
    schemas["Item"] = schema
    patch = {k: v for k, v in schema.items() if k != "required"}
    patch["title"] = "ItemPatch"
    patch["description"] = (
        "要修改的字段；type 与 ref 不可改 / the fields to change; type and ref never change"
    )
    schemas["ItemPatch"] = patch
    for path, method, name in (("/api/items", "post", "Item"), ("/api/items/{uid}", "patch", "ItemPatch")):
        operation = doc.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"]["content"]["application/json"]["schema"] = {
                "$ref": f"#/components/schemas/{name}"
            }
