"""The editorial workflow: every item transition, with its audit event and, for releases,
its versions and delivery rows, in one transaction.

    draft ──submit──▶ in_review ──review──▶ awaiting_approval ──approve──▶ approved ──publish_at──▶ published
      ▲                   │ reject                  │ reject
      └───────────────────┴─────────────────────────┘
    published ──edit──▶ draft (a revision; the live version stays out) ──…──approve──▶ update
    published ──abolish / expire──▶ new version (update)     published/approved ──withdraw──▶ withdrawn

Functions here take an open session and never commit: `publisher.editorial.service.Service` owns the
transaction and wakes the executor only after commit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import JSON, Select, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from publisher.domain.actions import AuditAction
from publisher.domain.clock import as_utc, local, utcnow
from publisher.domain.errors import (
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    TransitionError,
    ValidationError,
)
from publisher.domain.ids import new_uid
from publisher.domain.item import (
    CLEARED,
    IMMUTABLE_FIELDS,
    UNSENT_STATES,
    DeliveryState,
    Disclosure,
    ItemIn,
    ItemState,
    ItemType,
    Operation,
    Scope,
    Validity,
    VersionView,
)
from publisher.domain.permissions import Permission
from publisher.domain.validation import field_errors
from publisher.editorial import audit, indexno
from publisher.editorial.auth import Actor
from publisher.editorial.checks.problem import for_member, from_channel
from publisher.editorial.views import content_hash, view_of
from publisher.settings import Settings
from publisher.store import outbox
from publisher.store.models import AnyItem, AuditEvent, Delivery, Item, ItemRow, ItemVersion

# A pre-flight runs every routed channel's check() on the version about to be approved.
Preflight = Callable[[VersionView, list[str]], list[FieldError]]
# The content checks (publisher.editorial.checks): what refuses an item's approval.
ContentCheck = Callable[[Session, AnyItem], list[FieldError]]


@dataclass
class Outcome:
    """What a transition did: the items touched and the deliveries to wake after commit."""

    items: list[AnyItem] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    # the channel of each delivery written, where known: spares the executor a lookup
    channels: dict[int, str] = field(default_factory=dict)
    # what an approval abolished along the way (see `abolish_targets`)
    abolished: list[dict[str, Any]] = field(default_factory=list)


STATE_LABELS = {
    ItemState.DRAFT: "草稿",
    ItemState.IN_REVIEW: "待保密审查",
    ItemState.AWAITING_APPROVAL: "待批准",
    ItemState.APPROVED: "已批准待发布",
    ItemState.PUBLISHED: "已发布",
    ItemState.WITHDRAWN: "已撤回",
}


ACTION_LABELS = {
    "edit": "编辑",
    "submit": "提交审查",
    "review": "通过审查",
    "reject": "退回",
    "approve": "批准",
    "change validity of": "变更有效性",
    "withdraw": "撤回",
}


def _refuse(item: AnyItem, action: str) -> TransitionError:
    label = STATE_LABELS.get(ItemState(item.state), item.state)
    return TransitionError(
        f"当前状态“{label}”不能{ACTION_LABELS[action]} / cannot {action} an item in state {item.state}",
        item.state,
    )


# an approver's reason for leaving a channel out, kept with the delivery and its audit event
EXCLUDE_REASON_MAX = 500

_ITEM = select(Item).where(Item.uid == bindparam("uid"))
_ITEM_LOCKED = _ITEM.with_for_update()


def get_item(session: Session, uid: str, *, lock: bool = False) -> Item:
    item = session.execute(_ITEM_LOCKED if lock else _ITEM, {"uid": uid}).scalar_one_or_none()
    if item is None:
        raise NotFoundError(f"未找到信息 {uid} / item not found")
    return item


History = list[tuple[str, str]]  # (actor, action): an item's maker and checker events in order


def _read_item(session: Session, uid: str) -> tuple[ItemRow, History]:
    """The item's row, locked, without the ORM (see `ItemRow`), and its maker-checker
    history (`_check_four_eyes`) from the same statement: on PostgreSQL each statement of an
    approval is a round trip, and a second one for the history cost the approval about a
    sixth of its rate (bench/approve.py, docs/benchmarks.md)."""
    conn = session.connection()
    row = conn.execute(_item_with_history(conn.dialect.name), {"uid": uid}).one_or_none()
    if row is None:
        raise NotFoundError(f"未找到信息 {uid} / item not found")
    fields = dict(row._mapping)
    events = fields.pop("history") or []  # PostgreSQL's json_agg of no rows is NULL
    return ItemRow(**fields), [(str(actor), str(action)) for _, actor, action in sorted(events)]


def _resolve(session: Session, ref_or_uid: str, field_name: str) -> Item:
    item = session.execute(
        select(Item).where(or_(Item.uid == ref_or_uid, Item.ref == ref_or_uid))
    ).scalar_one_or_none()
    if item is None:
        raise ValidationError.one(field_name, f"关联的信息 {ref_or_uid} 不存在 / no item {ref_or_uid}")
    return item


def _validate(data: dict[str, Any]) -> ItemIn:
    try:
        return ItemIn.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(field_errors(exc)) from None


def _apply(session: Session, item: Item, parsed: ItemIn, settings: Settings) -> None:
    content = parsed.content()
    if content.get("issuing_body") is None:
        content["issuing_body"] = settings.agency.name
    if parsed.interprets:
        target = _resolve(session, parsed.interprets, "interprets")
        if target.type != ItemType.POLICY:
            raise ValidationError.one(
                "interprets", "政策解读只能关联政策文件 / an interpretation interprets a policy"
            )
        content["interprets"] = target.uid
        item.interprets_uid = target.uid
    content["abolishes"] = [_resolve(session, r, "abolishes").uid for r in parsed.abolishes]
    if parsed.index_number and parsed.index_number != item.index_number:
        # the system's alone: assigned at approval, or imported for a legacy item by an admin
        raise ValidationError.one(
            "index_number",
            "索取号由系统在批准时分配，不能填写或更改；历史索取号由管理员导入（publisher item "
            "import-index-no）/ the index number is assigned by the system; an admin imports legacy ones",
        )
    content["index_number"] = item.index_number
    item.content = content
    item.title = parsed.title
    item.release_group = parsed.release_group
    item.publish_at = as_utc(parsed.publish_at) if parsed.publish_at else None
    item.updated_at = utcnow()


def create_item(session: Session, settings: Settings, actor: Actor, data: dict[str, Any]) -> Item:
    actor.require(Permission.ITEM_EDIT)
    parsed = _validate(data)
    if parsed.ref and session.execute(select(Item.id).where(Item.ref == parsed.ref)).first():
        raise ValidationError.one("ref", f"引用标识 {parsed.ref} 已存在 / ref already exists")
    now = utcnow()
    item = Item(
        uid=new_uid(),
        ref=parsed.ref,
        type=parsed.type.value,
        state=ItemState.DRAFT.value,
        validity=parsed.validity.value,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
        content={},
        title=parsed.title,
    )
    session.add(item)
    session.flush()
    _apply(session, item, parsed, settings)
    audit.append(session, actor=actor.name, action=AuditAction.CREATE, item_uid=item.uid)
    return item


def update_item(session: Session, settings: Settings, actor: Actor, uid: str, patch: dict[str, Any]) -> Item:
    """Edit the working copy. Editing a live item starts a revision: it goes back to draft
    and needs the whole review and approval again, while the live version stays out."""
    actor.require(Permission.ITEM_EDIT)
    item = get_item(session, uid, lock=True)
    if item.state not in (ItemState.DRAFT, ItemState.PUBLISHED, ItemState.APPROVED):
        raise _refuse(item, "edit")
    for key in IMMUTABLE_FIELDS:
        if key in patch and patch[key] != (item.type if key == "type" else item.ref):
            raise ValidationError.one(key, "创建后不可更改 / cannot be changed after creation")
    merged = {k: v for k, v in item.content.items() if k in ItemIn.model_fields}
    merged["type"], merged["ref"] = item.type, item.ref
    for key in ("validity",):  # validity changes go through abolish(), never a plain edit
        if key in patch and patch[key] != merged.get(key):
            raise ValidationError.one(key, "有效性须通过“废止/失效”操作变更 / use abolish to change validity")
    # an answer to one applicant becomes public only through the conversion path, which makes
    # a new item linked to the application; never by editing its scope
    if (
        item.content.get("scope") == Scope.APPLICANT
        and patch.get("scope", Scope.APPLICANT) != Scope.APPLICANT
    ):
        raise ValidationError.one("scope", _APPLICANT_ONLY)
    merged.update(patch)
    parsed = _validate(merged)
    was = item.state
    # the approval writes the 索取号 to the item's column only (its working copy is not
    # rewritten on the hot path), so the column is what the item had before this edit
    before = {**item.content, "index_number": item.index_number}
    _apply(session, item, parsed, settings)
    item.state = ItemState.DRAFT.value
    item.reject_reason = None
    # An approved version waiting for its publish_at was approved as it stood: pulled back
    # into editing, it must never go out later, so its unsent deliveries end here.
    superseded = _supersede_unsent(session, item, None) if was == ItemState.APPROVED else 0
    changes = _changes(before, item.content)
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.EDIT,
        item_uid=item.uid,
        # only what changed (a form posts every field), each value shortened for the log
        data={
            "fields": sorted(changes),
            "changes": changes,
            "revision": was != ItemState.DRAFT,
            **({"superseded": superseded} if superseded else {}),
        },
    )
    return item


def _short(value: Any, limit: int = 200) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        return text if len(text) <= limit else text[:limit] + "…"
    return value


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field -> [before, after] for the fields whose values differ."""
    keys = sorted(set(before) | set(after))
    return {k: [_short(before.get(k)), _short(after.get(k))] for k in keys if before.get(k) != after.get(k)}


def import_index_number(session: Session, settings: Settings, actor: Actor, uid: str, number: str) -> Item:
    """Give an item the 索取号 it already had before this system (admin): the agency's pattern
    (CODE-YYYY-serial), a year not in the future, unused, and only while the item has none;
    the counter moves past it so it is never handed out again. Audited."""
    actor.require(Permission.INDEX_IMPORT)
    number = (number or "").strip()
    m = re.fullmatch(rf"{re.escape(settings.agency.code)}-(\d{{4}})-(\d{{3,5}})", number)
    if m is None:
        raise ValidationError.one(
            "index_number",
            f"索取号格式应为 {settings.agency.code}-年份-序号（如 {settings.agency.code}-2019-146）/ "
            f"expected {settings.agency.code}-YYYY-serial",
        )
    year = int(m.group(1))
    if not 1990 <= year <= local(utcnow()).year:
        raise ValidationError.one("index_number", f"索取号年份 {year} 不合理 / implausible year {year}")
    item = get_item(session, uid, lock=True)
    if item.index_number:
        raise ValidationError.one(
            "index_number", "该信息已有索取号，不可更改 / the item has its number already"
        )
    if session.execute(select(Item.id).where(Item.index_number == number)).first():
        raise ValidationError.one("index_number", "索取号已被使用 / index number already in use")
    item.index_number = number
    item.content = {**item.content, "index_number": number}
    indexno.reserve_existing(session, settings.agency, number)
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.IMPORT_INDEX_NO,
        item_uid=item.uid,
        data={"index_number": number},
    )
    return item


def submit(session: Session, actor: Actor, uid: str) -> Item:
    actor.require(Permission.ITEM_EDIT)
    item = get_item(session, uid, lock=True)
    if item.state != ItemState.DRAFT:
        raise _refuse(item, "submit")
    item.state = ItemState.IN_REVIEW.value
    item.updated_at = utcnow()
    audit.append(session, actor=actor.name, action=AuditAction.SUBMIT, item_uid=item.uid)
    return item


_APPLICANT_ONLY = (
    "“面向申请人”的答复不向社会发布；如需主动公开，请通过“依申请公开转主动公开”转化 / an answer to an "
    "applicant never reaches a public channel: convert the application to active disclosure "
    "(POST /api/compliance/applications/{number}/convert)"
)


def _release_blockers(item: AnyItem) -> list[FieldError]:
    errors = []
    c = item.content
    if c.get("disclosure") == Disclosure.NOT_DISCLOSED:
        errors.append(
            FieldError("disclosure", "“不予公开”的信息不能发布 / items marked 不予公开 are never released")
        )
    if c.get("scope") == Scope.APPLICANT:
        errors.append(FieldError("scope", _APPLICANT_ONLY))
    if c.get("classified", CLEARED) != CLEARED:
        errors.append(
            FieldError("classified", "未通过保密审查（须为“非涉密”）/ only 非涉密 items can be released")
        )
    return errors


def review(session: Session, actor: Actor, uid: str) -> Item:
    """Confidentiality review (保密审查) passed."""
    actor.require(Permission.ITEM_REVIEW)
    item = get_item(session, uid, lock=True)
    if item.state != ItemState.IN_REVIEW:
        raise _refuse(item, "review")
    blockers = _release_blockers(item)
    if blockers:
        raise ValidationError(blockers)
    item.state = ItemState.AWAITING_APPROVAL.value
    item.updated_at = utcnow()
    audit.append(session, actor=actor.name, action=AuditAction.REVIEW, item_uid=item.uid)
    return item


def reject(session: Session, actor: Actor, uid: str, reason: str) -> Item:
    item = get_item(session, uid, lock=True)
    if item.state == ItemState.IN_REVIEW:
        actor.require(Permission.ITEM_REVIEW, Permission.ITEM_APPROVE)
    elif item.state == ItemState.AWAITING_APPROVAL:
        actor.require(Permission.ITEM_APPROVE)
    else:
        raise _refuse(item, "reject")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.one("reason", "退回须说明理由 / a rejection needs a reason")
    item.state = ItemState.DRAFT.value
    item.reject_reason = reason[:2000]
    item.updated_at = utcnow()
    audit.append(
        session, actor=actor.name, action=AuditAction.REJECT, item_uid=item.uid, reason=item.reject_reason
    )
    return item


def _group_of(session: Session, item: AnyItem) -> list[AnyItem]:
    if not item.release_group:
        return [item]
    members = (
        session.execute(
            select(Item).where(Item.release_group == item.release_group).order_by(Item.id).with_for_update()
        )
        .scalars()
        .all()
    )
    batch: list[AnyItem] = [m for m in members if m.state == ItemState.AWAITING_APPROVAL]
    not_ready = [m for m in members if m.state in (ItemState.DRAFT, ItemState.IN_REVIEW)]
    if not_ready:
        names = "；".join(f"《{m.title}》({STATE_LABELS[ItemState(m.state)]})" for m in not_ready)
        raise TransitionError(
            f"同一发布组的信息须一并批准，以下尚未就绪：{names} / every member of release group "
            f"{item.release_group} must be awaiting approval",
            item.state,
        )
    return batch


# What makes someone a maker of the version under approval (the audit log is the record of
# who did what; "approve" closes a version, so only events after the last one count).
_MAKER_ACTIONS = (AuditAction.CREATE, AuditAction.EDIT, AuditAction.IMPORT_INDEX_NO)
_HISTORY_ACTIONS = (*_MAKER_ACTIONS, AuditAction.REVIEW, AuditAction.APPROVE)
_HISTORY = (
    select(AuditEvent.actor, AuditEvent.action)
    .where(
        AuditEvent.item_uid == bindparam("uid"),
        AuditEvent.action.in_(_HISTORY_ACTIONS),
    )
    .order_by(AuditEvent.seq)
)


@functools.cache
def _item_with_history(dialect: str) -> Select[Any]:
    """The item's row, locked, with the `_HISTORY` events as one JSON array of [seq, actor,
    action] (neither engine's JSON aggregate promises an order: `_read_item` sorts by seq)."""
    items, events = Item.__table__, AuditEvent.__table__
    pg = dialect == "postgresql"
    history = (
        select(
            (func.json_agg if pg else func.json_group_array)(
                (func.json_build_array if pg else func.json_array)(
                    events.c.seq, events.c.actor, events.c.action
                )
            )
        )
        .where(events.c.item_uid == items.c.uid, events.c.action.in_(_HISTORY_ACTIONS))
        .scalar_subquery()
    )
    return (
        select(*items.c, type_coerce(history, JSON).label("history"))
        .where(items.c.uid == bindparam("uid"))
        .with_for_update()
    )


def _history(session: Session, item: AnyItem) -> History:
    return [(str(a), str(b)) for a, b in session.connection().execute(_HISTORY, {"uid": item.uid}).tuples()]


def _check_four_eyes(actor: Actor, item: AnyItem, history: History) -> None:
    """Maker-checker: the approver of a version is neither its author nor anyone who edited it
    since the last approval, nor anyone who reviewed it. Checked for every member of a release
    group, whatever the approver's role (admin included), so one person never carries an item
    from draft to published alone. `history`: the item's `_HISTORY` events, oldest first."""
    makers: set[str] = set()
    reviewers: set[str] = set()
    for name, action in history:
        if action == AuditAction.APPROVE:
            makers.clear()
            reviewers.clear()
        elif action == AuditAction.REVIEW:
            reviewers.add(name)
        else:
            makers.add(name)
    if item.created_by == actor.id or actor.name in makers:
        raise PermissionDeniedError(
            f"不能批准自己起草或修改过的信息《{item.title}》（须由他人批准）/ the author or an editor of "
            f"a version never approves it (item {item.uid})"
        )
    if actor.name in reviewers:
        raise PermissionDeniedError(
            f"同一人不能既审查又批准信息《{item.title}》 / nobody both reviews and approves the same "
            f"version (item {item.uid})"
        )


def _live_version(session: Session, item: AnyItem) -> ItemVersion | None:
    if item.live_version is None:
        return None
    return session.execute(
        select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.number == item.live_version)
    ).scalar_one()


def _release_content(item: AnyItem, index_number: str, release_at: datetime) -> dict[str, Any]:
    """The content a released version freezes: the draft plus what the release decides."""
    content = dict(item.content)
    content["index_number"] = index_number
    content["published_at"] = (item.published_at or release_at).isoformat()
    content["validity_changed_on"] = item.validity_changed_on
    content["abolished_by"] = item.abolished_by
    content["validity"] = item.validity
    return content


def _supersede_unsent(session: Session, item: AnyItem, channels: list[str] | None) -> int:
    """The item's deliveries not yet handed to their channel (of `channels`, or of all) are
    superseded; how many."""
    stmt = update(Delivery).where(
        Delivery.item_id == item.id, Delivery.state.in_([s.value for s in UNSENT_STATES])
    )
    if channels is not None:
        stmt = stmt.where(Delivery.channel.in_(channels))
    result = session.execute(
        stmt.values(
            state=DeliveryState.SUPERSEDED.value, updated_at=utcnow(), lease_owner=None
        ).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class Frozen(NamedTuple):
    """A version just written (an ORM object would cost an approval more than a statement)."""

    number: int
    content_hash: str


def _write_version(
    session: Session,
    item: AnyItem,
    actor: Actor,
    content: dict[str, Any],
    op: Operation,
    *,
    reason: str,
    channels: Iterable[str],
    not_before: datetime,
    after: dict[str, int] | None = None,
    supersede: bool = True,
    release: dict[str, Any] | None = None,
    audit_action: AuditAction | None = None,
    audit_data: dict[str, Any] | None = None,
) -> tuple[Frozen, dict[str, int]]:
    """Freeze `content` as the item's next version and queue one delivery of it per channel
    (see `outbox.write`; `release` is an approval's item columns; given `audit_action`, that
    audit event of the new version, with `audit_data`, goes in the same statement). Returns what was
    frozen and {channel: delivery id}."""
    now = utcnow()
    channels = list(channels)
    # every new version becomes the live one, so the live number is also the highest
    number = (item.live_version or 0) + 1
    digest = content_hash(content)
    values = dict(
        item_id=item.id,
        number=number,
        content=content,
        content_hash=digest,
        reason=reason,
        created_by=actor.id,
        created_at=now,
    )
    if channels and supersede:
        _supersede_unsent(session, item, channels)
        # A delivery of this item still in flight on a channel (sending, or accepted and not yet
        # confirmed) goes first: the new one waits for it, so a withdrawal can never overtake
        # the update before it.
        in_flight = dict(
            session.execute(
                select(Delivery.channel, func.max(Delivery.id))
                .where(
                    Delivery.item_id == item.id,
                    Delivery.channel.in_(channels),
                    Delivery.state.in_((DeliveryState.SENDING.value, DeliveryState.ACCEPTED.value)),
                )
                .group_by(Delivery.channel)
            )
            .tuples()
            .all()
        )
        after = {**in_flight, **(after or {})}
    planned = [
        outbox.Planned(c, f"{item.uid}.v{number}.{c}.{op.value}", (after or {}).get(c)) for c in channels
    ]
    event = (
        None
        if audit_action is None
        else audit.event_params(
            actor=actor.name,
            action=audit_action,
            item_uid=item.uid,
            version_hash=digest,
            data={"version": number, **(audit_data or {})},
        )
    )
    written = outbox.write(
        session, values, op.value, planned, due_at=max(now, not_before), now=now, release=release, event=event
    )
    if written.event is not None:
        audit.seal(session, *written.event)
    rows = written.deliveries
    if release is not None:
        # the object now holds the values just written (an ORM object: as committed values)
        for key, value in release.items():
            if isinstance(item, Item):
                set_committed_value(item, key, value)
            else:
                setattr(item, key, value)
    return Frozen(number, digest), rows


def _policy_deliveries(session: Session, policy_uid: str) -> dict[str, int]:
    """The latest not-yet-delivered delivery per channel of a policy, for ordering its
    interpretation's deliveries after it."""
    rows = session.execute(
        select(Delivery.channel, Delivery.id, Delivery.state)
        .join(Item, Item.id == Delivery.item_id)
        .where(Item.uid == policy_uid)
        .order_by(Delivery.id)
    ).all()
    out: dict[str, int] = {}
    for channel, did, state in rows:
        if state in (DeliveryState.DELIVERED, DeliveryState.SUPERSEDED, DeliveryState.FAILED):
            out.pop(channel, None)
        else:
            out[channel] = did
    return out


def abolish_targets(session: Session, item: AnyItem) -> list[dict[str, Any]]:
    """The items this one abolishes when it is released, as reviewer and approver must see
    them: title, 文号, 索取号 and validity."""
    uids = list(item.content.get("abolishes") or [])
    if not uids:
        return []
    found = {t.uid: t for t in session.execute(select(Item).where(Item.uid.in_(uids))).scalars()}
    return [
        {
            "uid": t.uid,
            "title": t.title,
            "doc_number": t.content.get("doc_number"),
            "index_number": t.index_number,
            "validity": t.validity,
        }
        for t in (found[u] for u in uids if u in found)
    ]


def approval_etag(session: Session, item: AnyItem) -> str:
    """A digest of everything an approval of `item` would change, as it stands: the item and
    each member of its release group (state, title, content, schedule) and the items they
    abolish. The approver's page and `GET /api/items/{uid}` carry it; an approval that brings
    another digest refers to something the approver was not shown."""
    if item.release_group:
        members: list[AnyItem] = list(
            session.execute(select(Item).where(Item.release_group == item.release_group).order_by(Item.uid))
            .scalars()
            .all()
        )
    else:
        members = [item]
    shown = [
        [
            m.uid,
            m.state,
            m.title,
            content_hash(m.content),
            m.publish_at.isoformat() if m.publish_at else None,
            abolish_targets(session, m),
        ]
        for m in members
    ]
    return hashlib.sha256(audit.canonical(shown).encode()).hexdigest()[:32]


def _check_seen(session: Session, item: AnyItem, seen: str | None) -> None:
    if seen is None:
        return
    if seen.strip().removeprefix("W/").strip('"') != approval_etag(session, item):
        raise TransitionError(
            "您查看该信息后，它（或其发布组、将被废止的信息）已有变更；请刷新页面，重新审阅后再批准 / "
            "the item, its release group or what it abolishes changed after you saw it: reload and "
            "review it again",
            item.state,
        )


def approve(
    session: Session,
    settings: Settings,
    actor: Actor,
    uid: str,
    *,
    preflight: Preflight | None = None,
    content_check: ContentCheck | None = None,
    exclude: Collection[str] = (),
    exclude_reason: str | None = None,
    seen: str | None = None,
) -> Outcome:
    """Approve an item, or its whole release group, atomically: freeze each version, assign
    index numbers, write one delivery per routed channel and the audit events. The channels'
    pre-flight and the content checks are one list of problems; any refuses the approval —
    except a problem of a channel in `exclude`: the approver chose to leave that channel out,
    so its delivery is written `excluded` (audited, with the problems) and the other channels
    go ahead; `release_excluded` lets it go later. `exclude_reason` is the approver's why,
    kept with the delivery and in the audit event. `seen` is the `approval_etag` the approver
    was shown: another one is a 409."""
    actor.require(Permission.ITEM_APPROVE)
    item, history = _read_item(session, uid)
    if item.state != ItemState.AWAITING_APPROVAL:
        raise _refuse(item, "approve")
    batch = _group_of(session, item)
    # policies first, so an interpretation's deliveries can be ordered after its policy's
    batch.sort(key=lambda m: (m.type != ItemType.POLICY, m.id))
    batch_uids = {m.uid for m in batch}

    for m in batch:
        _check_four_eyes(actor, m, history if m.uid == item.uid else _history(session, m))
    _check_seen(session, item, seen)
    errors: list[FieldError] = []
    exclude = list(dict.fromkeys(exclude))
    why = (exclude_reason or "").strip()
    if len(why) > EXCLUDE_REASON_MAX:
        errors.append(
            FieldError(
                "exclude_reason",
                f"排除理由最多 {EXCLUDE_REASON_MAX} 字 / at most {EXCLUDE_REASON_MAX} characters",
            )
        )
    routed = {c for m in batch for c in settings.routed_channels(m.type)}
    if stray := [c for c in exclude if c not in routed]:
        errors.append(
            FieldError(
                "exclude",
                f"不是本次批准要投递的渠道 / not a channel this approval delivers to: {', '.join(stray)}",
            )
        )
    for m in batch:
        prefix = "" if m.uid == item.uid else f"group[{m.uid}]."
        errors += [FieldError(prefix + e.field, e.message) for e in _release_blockers(m)]
        if m.type == ItemType.INTERPRETATION:
            policy_uid = m.interprets_uid
            policy = get_item(session, policy_uid) if policy_uid else None
            if policy is None or (policy.uid not in batch_uids and policy.live_version is None):
                errors.append(
                    FieldError(
                        prefix + "interprets",
                        "政策解读不能先于所解读的政策发布，请与政策一并批准 / an interpretation is never "
                        "released before its policy: approve them together",
                    )
                )
            elif (
                policy.uid not in batch_uids
                and policy.publish_at
                and m.publish_at
                and m.publish_at < policy.publish_at
            ):
                errors.append(
                    FieldError(prefix + "publish_at", "解读的发布时间不能早于政策 / not before its policy")
                )
    if errors:
        raise ValidationError(errors)

    now = utcnow()
    outcome = Outcome()
    policy_deliveries: dict[str, dict[str, int]] = {}
    for m in batch:
        live = _live_version(session, m)
        release_at = m.publish_at or now
        year = local(release_at).year
        channels = settings.routed_channels(m.type)
        # An item released before keeps its number (and only such an item can be unchanged).
        content = _release_content(m, m.index_number, release_at) if m.index_number else None
        if live is not None and content is not None and content_hash(content) == live.content_hash:
            raise TransitionError(
                f"《{m.title}》内容未变更，无需重新批准 / nothing changed since the live version", m.state
            )
        # Checks before a new number is taken, with a number of its pattern: the counter's row
        # lock, which every approval of the year queues on, is then held only for the writes
        # below and the commit, not for the channels' pre-flight.
        problems: list[FieldError] = []
        held: dict[str, list[str]] = {c: [] for c in exclude if c in channels}
        if preflight is not None and channels:
            shown = content or _release_content(m, indexno.provisional(settings.agency, year), release_at)
            draft = ItemVersion(
                item_id=m.id,
                number=(m.live_version or 0) + 1,
                content=shown,
                content_hash=content_hash(shown),
            )
            for p in preflight(view_of(session, settings, m, draft), channels):
                kind = channel_of(p.field, channels)
                if kind in held:
                    held[kind].append(p.message)
                else:
                    problems.append(from_channel(p))
        if content_check is not None:
            problems += content_check(session, m)
        if problems:
            prefix = "" if m.uid == item.uid else f"group[{m.uid}]."
            raise ValidationError([for_member(p, m.uid, m.title, prefix) for p in problems])
        index_number = m.index_number or indexno.next_index_number(session, settings.agency, year)
        if content is None:
            content = _release_content(m, index_number, release_at)
        op = Operation.UPDATE if live is not None else Operation.PUBLISH
        after: dict[str, int] = {}
        if m.type == ItemType.INTERPRETATION and m.interprets_uid:
            after = policy_deliveries.get(m.interprets_uid) or _policy_deliveries(session, m.interprets_uid)
        released = release_at <= now
        version, rows = _write_version(
            session,
            m,
            actor,
            content,
            op,
            reason=op.value,
            channels=channels,
            not_before=release_at,
            after=after,
            supersede=live is not None,  # a first publication has nothing unsent to supersede
            release=dict(
                index_number=index_number,
                live_version=(m.live_version or 0) + 1,
                state=(ItemState.PUBLISHED if released else ItemState.APPROVED).value,
                published_at=(m.published_at or now) if released else m.published_at,
                updated_at=now,
            ),
            audit_action=AuditAction.APPROVE,
            audit_data={
                "operation": op.value,
                "channels": channels,
                "index_number": index_number,
                "group": m.release_group,
                **({"abolishes": list(content["abolishes"])} if content.get("abolishes") else {}),
            },
        )
        if m.type == ItemType.POLICY:
            policy_deliveries[m.uid] = rows
        rows = _exclude(session, actor, m, rows, held, why)
        outcome.items.append(m)
        if release_at <= now:
            outcome.deliveries += list(rows.values())
            outcome.channels.update({did: channel for channel, did in rows.items()})
        # A notice that abolishes earlier documents changes their validity in the same release.
        for target_uid in content.get("abolishes") or []:
            target = get_item(session, target_uid, lock=True)
            if target.live_version is not None and target.validity == Validity.VALID:
                outcome.abolished.append(
                    {
                        "uid": target.uid,
                        "title": target.title,
                        "doc_number": target.content.get("doc_number"),
                        "index_number": target.index_number,
                        "by": m.uid,
                    }
                )
                sub = _change_validity(
                    session,
                    settings,
                    actor,
                    target,
                    Validity.ABOLISHED,
                    local(release_at).date(),
                    by=m.uid,
                    not_before=release_at,
                )
                outcome.deliveries += sub.deliveries
                outcome.channels.update(sub.channels)
    return outcome


def channel_of(field: str, channels: Collection[str]) -> str | None:
    """The channel a pre-flight problem's field (`channels.<name>[.<field>]`) belongs to; the
    longest name first, as instance names (`webhook.crm`) contain dots."""
    rest = field[len("channels.") :] if field.startswith("channels.") else None
    if rest is None:
        return None
    for name in sorted(channels, key=len, reverse=True):
        if rest == name or rest.startswith(name + "."):
            return name
    return None


def _exclude(
    session: Session,
    actor: Actor,
    item: AnyItem,
    rows: dict[str, int],
    held: dict[str, list[str]],
    reason: str,
) -> dict[str, int]:
    """Mark the deliveries of the channels the approver left out `excluded`, with the
    approver's reason and the channel's problems, and audit each; returns the deliveries
    that go out now."""
    now = utcnow()
    for channel, problems in held.items():
        delivery_id = rows.get(channel)
        if delivery_id is None:
            continue
        found = "；".join(problems)
        why = (
            "；".join(
                part
                for part in (
                    f"理由 / reason: {reason}" if reason else "",
                    f"预检问题 / problems: {found}" if found else "",
                )
                if part
            )
            or "审批人选择不投递 / left out by the approver"
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(
                state=DeliveryState.EXCLUDED.value,
                last_error=f"审批时排除 / excluded at approval: {why}"[:2000],
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        audit.append(
            session,
            actor=actor.name,
            action=AuditAction.DELIVERY_EXCLUDE,
            item_uid=item.uid,
            reason=reason or None,
            data={"delivery": delivery_id, "channel": channel, "problems": problems},
        )
    return {c: d for c, d in rows.items() if c not in held}


def release_excluded(
    session: Session,
    settings: Settings,
    actor: Actor,
    delivery_id: int,
    *,
    preflight: Preflight | None = None,
) -> Outcome:
    """excluded -> queued, after the channel's pre-flight passes on the frozen version (a
    changed channel setting, or an approver's second look); audited as `delivery.release`."""
    actor.require(Permission.ITEM_APPROVE)
    d = session.get(Delivery, delivery_id, with_for_update=True)
    if d is None:
        raise NotFoundError(f"未找到投递 {delivery_id} / delivery not found")
    if d.state != DeliveryState.EXCLUDED:
        raise TransitionError(
            f"只有审批时排除的投递可以放行，当前为 {d.state} / only an excluded delivery can be released",
            d.state,
        )
    item = session.get(Item, d.item_id)
    version = session.get(ItemVersion, d.version_id)
    assert item is not None and version is not None
    if preflight is not None and d.operation != Operation.WITHDRAW:
        problems = preflight(view_of(session, settings, item, version), [d.channel])
        if problems:
            raise ValidationError([from_channel(p) for p in problems])
    now = utcnow()
    d.state, d.last_error, d.next_attempt_at, d.updated_at = DeliveryState.QUEUED.value, None, now, now
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.DELIVERY_RELEASE,
        item_uid=item.uid,
        data={"delivery": delivery_id, "channel": d.channel},
    )
    outcome = Outcome()
    outcome.deliveries.append(delivery_id)
    outcome.channels[delivery_id] = d.channel
    return outcome


def _change_validity(
    session: Session,
    settings: Settings,
    actor: Actor,
    item: Item,
    validity: Validity,
    on: date,
    *,
    by: str | None,
    not_before: datetime | None = None,
) -> Outcome:
    live = _live_version(session, item)
    if live is None or item.state not in (ItemState.PUBLISHED, ItemState.APPROVED, ItemState.DRAFT):
        raise _refuse(item, "change validity of")
    item.validity = validity.value
    item.validity_changed_on = on.isoformat()
    item.abolished_by = by
    content = dict(live.content)
    content.update(validity=validity.value, validity_changed_on=on.isoformat(), abolished_by=by)
    item.content = {**item.content, "validity": validity.value}
    now = utcnow()
    version, rows = _write_version(
        session,
        item,
        actor,
        content,
        Operation.UPDATE,
        reason="abolish",
        channels=settings.routed_channels(item.type),
        not_before=not_before or now,
    )
    item.live_version = version.number
    item.updated_at = now
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.VALIDITY,
        item_uid=item.uid,
        version_hash=version.content_hash,
        data={"validity": validity.value, "on": on.isoformat(), "by": by, "version": version.number},
    )
    due = not_before is None or not_before <= now
    return Outcome(
        items=[item],
        deliveries=list(rows.values()) if due else [],
        channels={did: channel for channel, did in rows.items()},
    )


def abolish(
    session: Session,
    settings: Settings,
    actor: Actor,
    uid: str,
    *,
    on: date,
    by: str | None = None,
    validity: str = Validity.ABOLISHED.value,
) -> Outcome:
    """废止 / 失效: the validity changes and every channel gets an update."""
    actor.require(Permission.ITEM_APPROVE)
    try:
        new_validity = Validity(validity)
    except ValueError:
        raise ValidationError.one(
            "validity", "有效性应为 已废止、已失效 或 已修订 / invalid validity"
        ) from None
    if new_validity is Validity.VALID:
        raise ValidationError.one("validity", "废止操作不能设为“有效” / cannot abolish to 有效")
    item = get_item(session, uid, lock=True)
    if item.validity != Validity.VALID:
        raise TransitionError(f"该信息已是“{item.validity}” / already {item.validity}", item.state)
    by_uid = _resolve(session, by, "by").uid if by else None
    return _change_validity(session, settings, actor, item, new_validity, on, by=by_uid)


def withdraw(session: Session, settings: Settings, actor: Actor, uid: str, reason: str) -> Outcome:
    """Take the item down from every channel that has or was about to get it."""
    actor.require(Permission.ITEM_APPROVE)
    item = get_item(session, uid, lock=True)
    live = _live_version(session, item)
    if live is None or item.state == ItemState.WITHDRAWN:
        raise _refuse(item, "withdraw")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.one("reason", "撤回须说明理由 / a withdrawal needs a reason")
    channels = sorted(
        set(session.execute(select(Delivery.channel).where(Delivery.item_id == item.id)).scalars())
        | set(settings.routed_channels(item.type))
    )
    content = dict(live.content)
    content.update(withdrawn=True, withdraw_reason=reason[:2000])
    now = utcnow()
    version, rows = _write_version(
        session,
        item,
        actor,
        content,
        Operation.WITHDRAW,
        reason="withdraw",
        channels=channels,
        not_before=now,
    )
    item.live_version = version.number
    item.state = ItemState.WITHDRAWN.value
    item.withdrawn_at = now
    item.withdraw_reason = reason[:2000]
    item.updated_at = now
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.WITHDRAW,
        item_uid=item.uid,
        version_hash=version.content_hash,
        reason=item.withdraw_reason,
        data={"channels": channels},
    )
    return Outcome(
        items=[item], deliveries=list(rows.values()), channels={did: channel for channel, did in rows.items()}
    )


def release_due(session: Session, now: datetime | None = None) -> Outcome:
    """Scheduled items whose publish_at has come: approved → published. Their deliveries
    were written at approval with next_attempt_at = publish_at, so they become due now too."""
    now = now or utcnow()
    items = (
        session.execute(
            select(Item).where(Item.state == ItemState.APPROVED, Item.publish_at <= now).with_for_update()
        )
        .scalars()
        .all()
    )
    outcome = Outcome()
    for item in items:
        item.state = ItemState.PUBLISHED.value
        item.published_at = item.published_at or now
        item.updated_at = now
        audit.append(session, actor="system", action=AuditAction.RELEASE, item_uid=item.uid)
        outcome.items.append(item)
        outcome.deliveries += (
            session.execute(
                select(Delivery.id).where(Delivery.item_id == item.id, Delivery.state == DeliveryState.QUEUED)
            )
            .scalars()
            .all()
        )
    return outcome
