"""Domain types: item kinds, states, metadata, and the frozen version that channels read.

`ItemIn` validates what editors send (API, CLI, sample loader). `VersionView` is the
read-only snapshot of one approved version; it is the only core type adapters see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from publisher.domain import docnumber
from publisher.domain.clock import representable
from publisher.domain.sanitize import clean_html, text_of
from publisher.domain.urls import web_url


class ItemType(StrEnum):
    POLICY = "policy"
    INTERPRETATION = "interpretation"
    FEE_CHANGE = "fee_change"
    PROCUREMENT_RESULT = "procurement_result"
    CONSULTATION = "consultation"
    NOTICE = "notice"
    # The disclosure site's own standing pages: edited, versioned and audited like any item,
    # shown on the home page (publisher.editorial.public) rather than in the catalogue.
    GUIDE = "guide"
    RULES = "rules"


ITEM_TYPE_LABELS = {
    ItemType.POLICY: "政策文件",
    ItemType.INTERPRETATION: "政策解读",
    ItemType.FEE_CHANGE: "收费目录调整",
    ItemType.PROCUREMENT_RESULT: "政府采购结果",
    ItemType.CONSULTATION: "征求意见",
    ItemType.NOTICE: "通知公告",
    ItemType.GUIDE: "信息公开指南",
    ItemType.RULES: "信息公开制度",
}

# The metadata panel's field names: the bureau's own (its 2019 plan). A deployment renames
# them with one setting, [agency.labels]; pages, exports and channels read them from there
# (channels through VersionView.labels).
DEFAULT_LABELS: Mapping[str, str] = {
    "index_number": "索取号",
    "doc_number": "文号",
    "issuing_body": "发文机关",
    "issue_date": "印发日期",
    "validity": "是否有效",
    "published": "发布日期",
    "subject": "主题分类",
}

# Types that are the site's standing pages, not disclosed documents of the catalogue.
SITE_PAGE_TYPES = frozenset({ItemType.GUIDE, ItemType.RULES})


class ItemState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Validity(StrEnum):
    VALID = "有效"
    ABOLISHED = "已废止"
    EXPIRED = "已失效"
    AMENDED = "已修订"

    @property
    def change(self) -> str:
        """What happened to the document, without the aspect marker: 废止 / 失效 / 修订
        (notices say “已于2025-01-01废止” or “现废止”); 有效 for a valid one."""
        return self.value.removeprefix("已")


class Disclosure(StrEnum):
    ACTIVE = "主动公开"
    ON_REQUEST = "依申请公开"
    NOT_DISCLOSED = "不予公开"


class Scope(StrEnum):
    PUBLIC = "面向社会"
    APPLICANT = "面向申请人"


CLEARED = "非涉密"


class Operation(StrEnum):
    PUBLISH = "publish"
    UPDATE = "update"
    WITHDRAW = "withdraw"


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    HELD = "held"
    SUPERSEDED = "superseded"
    # left out at approval because of that channel's own pre-flight problem, until released
    EXCLUDED = "excluded"


class Outcome(StrEnum):
    """An attempt's outcome as the attempts table stores it. The failures are the kinds the
    ledger derives from a classified channel error (and LOST, a send a dead worker left)."""

    SUCCESS = "success"
    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    PERMANENT = "permanent"
    CONFIG = "config"
    ERROR = "error"  # an adapter raised something unclassified: a bug, retried like TRANSIENT
    LOST = "lost"


class Verdict(StrEnum):
    """A channel gate's answer for a send."""

    SEND = "send"
    PROBE = "probe"  # the breaker is half open and this send is its probe
    HELD = "held"  # paused, breaker open, or a probe already in flight


class Breaker(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# Deliveries not yet handed to the channel: a newer version or a withdrawal supersedes them.
UNSENT_STATES = frozenset(
    {DeliveryState.QUEUED, DeliveryState.RETRY_WAIT, DeliveryState.HELD, DeliveryState.EXCLUDED}
)


class Role(StrEnum):
    """What a user may do is in `publisher.domain.permissions.ROLE_PERMISSIONS`."""

    EDITOR = "editor"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    OPS = "ops"
    ADMIN = "admin"
    # 三员 (等保 2.0): the system, security and audit administrators
    SYSADMIN = "sysadmin"
    SECADMIN = "secadmin"
    AUDITOR = "auditor"


SHANGHAI_INDEX = re.compile(r"^[A-Z][0-9A-Z]{8,10}-\d{4}-\d{3,5}$")
NATIONAL_INDEX = re.compile(r"^([0-9A-Z]{9}|[0-9A-Z]{18})/\d{4}-\d{5}$")


class FeeChangeRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=20)
    item: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=200)
    old_standard: str | None = Field(default=None, max_length=200)
    new_standard: str | None = Field(default=None, max_length=200)

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v not in {"新增", "取消", "调整"}:
            raise ValueError("变动类型应为 新增、取消 或 调整 / action must be 新增, 取消 or 调整")
        return v


class Procurement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_number: str = Field(min_length=1, max_length=100)
    project_name: str | None = Field(default=None, max_length=300)
    purchaser: str = Field(min_length=1, max_length=200)
    supplier: str = Field(min_length=1, max_length=200)
    # the supplier's public contact (a procurement result may name it; see PUBLIC_CONTACT_FIELDS)
    supplier_contact: str | None = Field(default=None, max_length=200)
    amount_yuan: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    award_date: date
    method: str = Field(min_length=1, max_length=50)


# Fields where an item type publishes contact data by design: the content checks allow that
# kind of personal data there, and only there (publisher.editorial.checks.personal).
PUBLIC_CONTACT_FIELDS: dict[ItemType, dict[str, frozenset[str]]] = {
    ItemType.PROCUREMENT_RESULT: {"procurement.supplier_contact": frozenset({"mobile"})},
}


class Consultation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opens: date
    closes: date

    @model_validator(mode="after")
    def _order(self) -> Consultation:
        if self.closes < self.opens:
            raise ValueError("截止日期早于开始日期 / closes before it opens")
        return self


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    url: str = Field(pattern=r"^https?://", max_length=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return web_url(v)


FEE_CATALOGUES = ("政府性基金目录", "行政事业性收费目录", "涉企行政事业性收费目录")


class ItemIn(BaseModel):
    """An item as editors send it: the shape of the sample fixtures."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: ItemType
    title: str = Field(min_length=1, max_length=300)
    short_title: str | None = Field(default=None, max_length=64)
    ref: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    sample: bool = False
    issuing_body: str | None = Field(default=None, max_length=100)
    issue_date: date
    doc_number: str | None = Field(default=None, max_length=60)
    index_number: str | None = Field(default=None, max_length=40)
    subject: str = Field(min_length=1, max_length=100)
    disclosure: Disclosure = Disclosure.ACTIVE
    scope: Scope = Scope.PUBLIC
    validity: Validity = Validity.VALID
    classified: str = CLEARED
    keywords: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=500)
    body_html: str = Field(default="", max_length=2_000_000)
    release_group: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    interprets: str | None = Field(default=None, max_length=100)
    abolishes: list[str] = Field(default_factory=list, max_length=200)
    publish_at: datetime | None = None
    formed_at: date | None = None
    cover_url: str | None = Field(default=None, pattern=r"^https?://", max_length=1000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    # type-specific structured data
    catalogue: str | None = None
    effective_date: date | None = None
    changes: list[FeeChangeRow] | None = None
    procurement: Procurement | None = None
    consultation: Consultation | None = None

    @field_validator("doc_number")
    @classmethod
    def _doc_number(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        return docnumber.parse(v)

    @field_validator("index_number")
    @classmethod
    def _index_number(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not (SHANGHAI_INDEX.match(v) or NATIONAL_INDEX.match(v)):
            raise ValueError("索取号格式不正确，应如 AB1900010-2019-146 / invalid index number")
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        out = []
        for k in v:
            k = k.strip()
            if not k or len(k) > 30:
                raise ValueError("关键词不能为空且不超过30字 / keywords must be 1-30 characters")
            if k not in out:
                out.append(k)
        return out

    @field_validator("cover_url")
    @classmethod
    def _cover_url(cls, v: str | None) -> str | None:
        return None if v is None else web_url(v)

    @field_validator("body_html")
    @classmethod
    def _body(cls, v: str) -> str:
        return clean_html(v)

    @field_validator("publish_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("发布时间须带时区，如 2026-12-01T09:00:00+08:00 / publish_at needs a UTC offset")
        if v is not None and not representable(v):
            raise ValueError("发布时间超出可表示的范围 / publish_at out of range")
        return v

    @model_validator(mode="after")
    def _type_specific(self) -> ItemIn:
        problems: list[str] = []
        t = self.type
        if t is ItemType.FEE_CHANGE:
            if self.catalogue not in FEE_CATALOGUES:
                problems.append("catalogue: 收费目录调整须注明目录（" + "、".join(FEE_CATALOGUES) + "）")
            if self.effective_date is None:
                problems.append("effective_date: 收费目录调整须注明执行日期 / effective date required")
            if not self.changes:
                problems.append("changes: 收费目录调整须列明变动项目 / at least one change row required")
        elif self.catalogue or self.changes or self.effective_date:
            problems.append(
                "catalogue: 仅收费目录调整可填写目录变动 / only fee_change items carry catalogue changes"
            )
        if t is ItemType.PROCUREMENT_RESULT and self.procurement is None:
            problems.append("procurement: 采购结果须填写项目信息 / procurement details required")
        if t is not ItemType.PROCUREMENT_RESULT and self.procurement is not None:
            problems.append("procurement: 仅采购结果可填写采购信息 / only procurement_result items")
        if t is ItemType.CONSULTATION and self.consultation is None:
            problems.append("consultation: 征求意见须填写起止日期 / open and close dates required")
        if t is not ItemType.CONSULTATION and self.consultation is not None:
            problems.append("consultation: 仅征求意见可填写起止日期 / only consultation items")
        if t is ItemType.INTERPRETATION and not self.interprets:
            problems.append("interprets: 政策解读须关联所解读的政策 / an interpretation names its policy")
        if t is not ItemType.INTERPRETATION and self.interprets:
            problems.append("interprets: 仅政策解读可关联政策 / only interpretations interpret")
        if problems:
            raise ValueError(" | ".join(problems))
        return self

    def content(self) -> dict[str, Any]:
        """JSON-ready content as stored on the item and frozen into versions."""
        return self.model_dump(mode="json", exclude={"sample"})


# Fields an editor may not change once the item exists.
IMMUTABLE_FIELDS = frozenset({"type", "ref"})


@dataclass(frozen=True)
class VersionView:
    """One approved version of an item: what every channel renders. Read-only."""

    uid: str
    version: int
    content_hash: str
    type: ItemType
    title: str
    short_title: str | None
    issuing_body: str
    issue_date: date
    doc_number: str | None
    index_number: str
    subject: str
    disclosure: Disclosure
    scope: Scope
    validity: Validity
    validity_changed_on: date | None
    abolished_by: str | None
    keywords: tuple[str, ...]
    description: str
    body_html: str
    attachments: tuple[dict[str, str], ...]
    cover_url: str | None
    interprets: str | None
    interpreted_by: tuple[str, ...]
    release_group: str | None
    published_at: datetime | None
    created_at: datetime
    public_url: str
    structured: dict[str, Any]
    withdrawn: bool = False
    withdraw_reason: str | None = None
    # Live URLs other channels reported for this item (e.g. {"cms": "https://…/post"}), so a
    # renderer can link to the CMS copy without reading the ledger itself.
    channel_urls: Mapping[str, str] = field(default_factory=dict)
    # The deployment's names for the metadata panel's fields (keys as in DEFAULT_LABELS).
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))

    def __post_init__(self) -> None:
        # Adapters compare and branch on these: always the enums, even when built from
        # stored strings (a value outside them is refused here, not mis-rendered later).
        object.__setattr__(self, "disclosure", Disclosure(self.disclosure))
        object.__setattr__(self, "scope", Scope(self.scope))
        object.__setattr__(self, "validity", Validity(self.validity))

    @property
    def summary(self) -> str:
        return self.description or text_of(self.body_html)[:200]

    @property
    def abolished_by_url(self) -> str | None:
        """The public page of the document that abolished this one, beside this item's own
        (`public_url` is <public base>/items/<uid>)."""
        if not self.abolished_by or not self.public_url.endswith("/" + self.uid):
            return None
        return self.public_url[: -len(self.uid)] + self.abolished_by

    @property
    def type_label(self) -> str:
        return ITEM_TYPE_LABELS[self.type]
