"""Applications for disclosure (依申请公开) and their conversion to active disclosure (依申请转主动).

An answered application is recorded with its number, dates, subject and answer; the
applicant is kept for the office's own records and never copied into an item, a page or an
export. When the answer is of wide interest, an editor converts it into a draft item that is
linked to the application (`item_links`, kind `application`) and then goes through the
normal review and approval like any other item.
"""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher.domain.actions import AuditAction
from publisher.domain.clock import local_today, utcnow
from publisher.domain.errors import NotFoundError, TransitionError, ValidationError
from publisher.domain.item import ItemType
from publisher.domain.permissions import Permission
from publisher.domain.validation import field_errors
from publisher.editorial import audit, workflow
from publisher.editorial.auth import Actor
from publisher.settings import Settings
from publisher.store.models import Application, Item, ItemLink

LINK = "application"


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    number: str = Field(min_length=1, max_length=60, description="申请编号 / application number")
    received_on: date = Field(description="收到申请日期 / received")
    answered_on: date = Field(description="答复日期 / answered")
    subject: str = Field(min_length=1, max_length=300, description="申请内容（事项）/ what was asked for")
    request: str | None = Field(default=None, max_length=5000, description="申请内容描述 / the request")
    answer: str = Field(min_length=1, max_length=200_000, description="答复内容 / the answer (text or HTML)")
    answer_type: str | None = Field(
        default=None, max_length=32, description="答复类型，如 予以公开 / outcome"
    )
    applicant: str | None = Field(
        default=None, max_length=200, description="申请人（不公开）/ applicant, never public"
    )

    @model_validator(mode="after")
    def _order(self) -> ApplicationIn:
        if self.answered_on < self.received_on:
            raise ValueError("答复日期早于收到日期 / answered before it was received")
        return self


class ConvertIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(
        min_length=1, max_length=2000, description="为何具有普遍性 / why the answer is of wide interest"
    )
    type: ItemType = Field(default=ItemType.NOTICE, description="信息类型 / item type of the draft")
    title: str | None = Field(default=None, max_length=300)
    subject: str = Field(default="综合政务\\政务公开", max_length=100, description="主题分类 / subject class")
    description: str | None = Field(default=None, max_length=500)
    formed_at: date | None = Field(default=None, description="形成日期，默认转化当日 / default: today")


def _parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(field_errors(exc)) from None


def record(session: Session, actor: Actor, data: dict[str, Any]) -> Application:
    actor.require(Permission.ITEM_EDIT)
    parsed: ApplicationIn = _parse(ApplicationIn, data)
    if session.execute(select(Application.id).where(Application.number == parsed.number)).first():
        raise ValidationError.one(
            "number", f"申请编号 {parsed.number} 已存在 / application number already recorded"
        )
    app = Application(
        number=parsed.number,
        received_on=parsed.received_on,
        answered_on=parsed.answered_on,
        subject=parsed.subject,
        request=parsed.request,
        answer=parsed.answer,
        answer_type=parsed.answer_type,
        applicant=parsed.applicant,
        created_by=actor.id,
        created_at=utcnow(),
    )
    session.add(app)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationError.one(
            "number", f"申请编号 {parsed.number} 已存在 / application number already recorded"
        ) from None
    audit.append(
        session, actor=actor.name, action=AuditAction.APPLICATION_RECORD, data={"application": parsed.number}
    )
    return app


def get(session: Session, number: str) -> Application:
    app = session.execute(select(Application).where(Application.number == number)).scalar_one_or_none()
    if app is None:
        raise NotFoundError(f"未找到申请 {number} / application not found")
    return app


def converted_to(session: Session, number: str) -> str | None:
    return session.execute(
        select(ItemLink.item_uid).where(ItemLink.kind == LINK, ItemLink.target == number)
    ).scalar_one_or_none()


def as_json(session: Session, app: Application, *, private: bool = False) -> dict[str, Any]:
    """The application; the applicant only when `private` (the office's own view)."""
    data: dict[str, Any] = {
        "number": app.number,
        "received_on": app.received_on.isoformat(),
        "answered_on": app.answered_on.isoformat(),
        "subject": app.subject,
        "request": app.request,
        "answer": app.answer,
        "answer_type": app.answer_type,
        "converted_item": converted_to(session, app.number),
        "created_at": app.created_at.isoformat(),
    }
    if private:
        data["applicant"] = app.applicant
    return data


def listing(session: Session, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    total = session.execute(select(func.count()).select_from(Application)).scalar_one()
    rows = (
        session.execute(
            select(Application)
            .order_by(Application.answered_on.desc(), Application.id.desc())
            .limit(limit)
            .offset(offset)
        )
        .scalars()
        .all()
    )
    return total, [as_json(session, a) for a in rows]


def _body(app: Application) -> str:
    answer = app.answer
    if app.applicant:
        # the answer letter usually addresses the applicant by name; the public copy must not
        answer = answer.replace(app.applicant, "申请人")
    if not re.search(r"<[a-zA-Z][^>]*>", answer):
        answer = "".join(f"<p>{html.escape(line)}</p>" for line in answer.splitlines() if line.strip())
    note = (
        f"<p>本信息系依申请公开转为主动公开（申请编号：{html.escape(app.number)}，"
        f"答复日期：{app.answered_on.isoformat()}）。</p>"
    )
    return note + answer


def convert(session: Session, settings: Settings, actor: Actor, number: str, data: dict[str, Any]) -> Item:
    """Turn an answered application into a draft item linked to it."""
    actor.require(Permission.ITEM_EDIT)
    opts: ConvertIn = _parse(ConvertIn, data)
    if opts.type not in (ItemType.NOTICE, ItemType.POLICY):
        # the other types need structured data (dates, fee rows, a policy) an answer does not carry
        raise ValidationError.one(
            "type", "转化稿只能是政策文件或通知公告 / a converted answer is a policy or a notice"
        )
    app = get(session, number)
    existing = converted_to(session, number)
    if existing is not None:
        raise TransitionError(
            f"该申请已转为主动公开（{existing}）/ already converted to {existing}", "converted"
        )
    description = opts.description or f"依申请公开转主动公开：{app.subject}"
    item_data: dict[str, Any] = {
        "type": opts.type.value,
        "title": opts.title or app.subject,
        "issue_date": app.answered_on.isoformat(),
        # the duty to disclose actively starts when the office judges the answer of wide interest
        "formed_at": (opts.formed_at or local_today()).isoformat(),
        "subject": opts.subject,
        "description": description[:500],
        "keywords": ["依申请转主动"],
        "body_html": _body(app),
    }
    item = workflow.create_item(session, settings, actor, item_data)
    session.add(
        ItemLink(kind=LINK, item_uid=item.uid, target=app.number, created_by=actor.name, created_at=utcnow())
    )
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.APPLICATION_CONVERT,
        item_uid=item.uid,
        reason=opts.reason,
        data={"application": app.number},
    )
    return item
