"""What ops and reviewers change: dictionary additions, the names and titles register, and
accepted warnings. Every change is one transaction with its audit event; the dictionary and
the register each carry a version (`check_lists`) that every change moves on.

Functions take an open session and never commit (the caller's `Database.run` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import NotFoundError, TransitionError, ValidationError
from publisher.domain.item import ItemState
from publisher.domain.permissions import Permission
from publisher.editorial import audit
from publisher.editorial.auth import Actor
from publisher.editorial.checks.problem import Acceptance, Problem, Severity
from publisher.editorial.checks.register import Held
from publisher.editorial.checks.text import normalise_term
from publisher.editorial.checks.wording import Kind, Term, parse_kind
from publisher.store.models import CheckAcceptance, CheckList, CheckPerson, CheckTerm

WORDING = "wording"
PEOPLE = "people"


def versions(session: Session) -> dict[str, int]:
    rows = session.execute(select(CheckList.name, CheckList.version)).tuples().all()
    return {WORDING: 0, PEOPLE: 0, **dict(rows)}


def _bump(session: Session, name: str) -> int:
    now = utcnow()
    row = session.execute(
        select(CheckList).where(CheckList.name == name).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = CheckList(name=name, version=1, updated_at=now)
        session.add(row)
    else:
        row.version += 1
        row.updated_at = now
    session.flush()
    return row.version


# -- the dictionary ---------------------------------------------------------------------------
def active_terms(session: Session) -> list[Term]:
    rows = session.execute(
        select(CheckTerm).where(CheckTerm.removed_version.is_(None)).order_by(CheckTerm.id)
    ).scalars()
    return [
        Term(
            r.term,
            Kind(r.kind),
            r.suggestion,
            Severity(r.severity) if r.severity else None,
            r.note,
            source=f"ops v{r.added_version}",
        )
        for r in rows
    ]


def term_rows(session: Session, *, include_removed: bool = False) -> list[dict[str, Any]]:
    stmt = select(CheckTerm).order_by(CheckTerm.id)
    if not include_removed:
        stmt = stmt.where(CheckTerm.removed_version.is_(None))
    return [
        {
            "id": r.id,
            "term": r.term,
            "kind": r.kind,
            "suggestion": r.suggestion,
            "severity": r.severity,
            "note": r.note,
            "added_version": r.added_version,
            "removed_version": r.removed_version,
            "created_by": r.created_by,
            "created_at": r.created_at.isoformat(),
            "removed_by": r.removed_by,
        }
        for r in session.execute(stmt).scalars()
    ]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks allowed in a note
_LINE_BREAK = re.compile(r"[\t\n\r\u2028\u2029\x85]")


def _text(
    value: str | None, field: str, limit: int, *, required: bool = False, multiline: bool = False
) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError.one(field, "不能为空 / required")
        return None
    if len(value) > limit:
        raise ValidationError.one(field, f"不超过{limit}个字符 / at most {limit} characters")
    if _CONTROL.search(value) or (not multiline and _LINE_BREAK.search(value)):
        # a control character shows as nothing ("a\x01b" listed as "ab"), a tab or line break
        # cannot be written back to the dictionary's file format
        raise ValidationError.one(field, "含有控制字符或换行 / contains a control character or a line break")
    return value


def add_term(
    session: Session,
    actor: Actor,
    term: str,
    kind: str,
    *,
    suggestion: str | None = None,
    severity: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Add (or replace) an entry; replacing an ops entry removes the old one in the same version."""
    actor.require(Permission.CONFIGURE)
    text = _text(term, "term", 200, required=True) or ""
    key = normalise_term(text)
    if not key:
        raise ValidationError.one("term", "不能为空 / required")
    try:
        parsed = parse_kind(kind)
    except ValueError as exc:
        raise ValidationError.one("kind", str(exc)) from None
    if parsed is Kind.OFF:
        raise ValidationError.one("kind", "停用内置词条请用删除 / use remove to switch a starter entry off")
    try:
        level = Severity(severity) if severity else None
    except ValueError:
        raise ValidationError.one("severity", "应为 block 或 warn / block or warn") from None
    fix = _text(suggestion, "suggestion", 200)
    if parsed is Kind.WRONG and not fix:
        raise ValidationError.one("suggestion", "错误表述须给出正确写法 / a wrong form needs its right form")
    version = _bump(session, WORDING)
    now = utcnow()
    replaced = _retire_terms(session, key, actor, version, now)
    row = CheckTerm(
        key=key,
        term=text,
        kind=parsed.value,
        suggestion=fix,
        severity=level.value if level else "",  # empty: the kind's default
        note=_text(note, "note", 2000, multiline=True),
        added_version=version,
        created_by=actor.name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.CHECK_WORD_ADD,
        data={
            "term": text,
            "kind": parsed.value,
            "suggestion": fix,
            "version": version,
            "replaced": replaced,
        },
    )
    return {"id": row.id, "term": text, "kind": parsed.value, "version": version}


def _retire_terms(session: Session, key: str, actor: Actor, version: int, now: Any) -> int:
    result = session.execute(
        update(CheckTerm)
        .where(CheckTerm.key == key, CheckTerm.removed_version.is_(None))
        .values(removed_version=version, removed_by=actor.name, removed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def remove_term(session: Session, actor: Actor, term: str, *, starter: dict[str, Term]) -> dict[str, Any]:
    """Remove an ops entry; for a starter entry, switch it off (an `off` entry)."""
    actor.require(Permission.CONFIGURE)
    key = normalise_term(_text(term, "term", 200, required=True) or "")
    active = session.execute(
        select(CheckTerm).where(CheckTerm.key == key, CheckTerm.removed_version.is_(None))
    ).scalar_one_or_none()
    if active is None and key not in starter:
        raise NotFoundError(f"词库中没有“{term}” / no such entry")
    if active is not None and active.kind == Kind.OFF:
        raise ValidationError.one("term", f"内置词条“{term}”已停用 / already switched off")
    version = _bump(session, WORDING)
    now = utcnow()
    _retire_terms(session, key, actor, version, now)
    switched_off = key in starter
    if switched_off:
        session.add(
            CheckTerm(
                key=key,
                term=term.strip(),
                kind=Kind.OFF.value,
                suggestion=None,
                severity="",
                note=None,
                added_version=version,
                created_by=actor.name,
                created_at=now,
            )
        )
        session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.CHECK_WORD_REMOVE,
        data={"term": term.strip(), "version": version, "starter": switched_off},
    )
    return {"term": term.strip(), "version": version, "starter_switched_off": switched_off}


# -- the names and titles register ------------------------------------------------------------
def people(session: Session) -> list[Held]:
    rows = session.execute(
        select(CheckPerson).where(CheckPerson.removed_version.is_(None)).order_by(CheckPerson.id)
    ).scalars()
    return [Held(r.name, r.title, r.valid_from, r.valid_to, r.note) for r in rows]


def people_rows(session: Session, *, include_removed: bool = False) -> list[dict[str, Any]]:
    stmt = select(CheckPerson).order_by(CheckPerson.name, CheckPerson.valid_from)
    if not include_removed:
        stmt = stmt.where(CheckPerson.removed_version.is_(None))
    return [
        {
            "id": r.id,
            "name": r.name,
            "title": r.title,
            "valid_from": r.valid_from.isoformat(),
            "valid_to": r.valid_to.isoformat() if r.valid_to else None,
            "note": r.note,
            "added_version": r.added_version,
            "removed_version": r.removed_version,
            "created_by": r.created_by,
        }
        for r in session.execute(stmt).scalars()
    ]


def add_person(
    session: Session,
    actor: Actor,
    name: str,
    title: str,
    valid_from: date,
    valid_to: date | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    actor.require(Permission.CONFIGURE)
    clean_name = normalise_term(_text(name, "name", 40, required=True) or "")
    clean_title = normalise_term(_text(title, "title", 100, required=True) or "")
    if len(clean_name) < 2:
        raise ValidationError.one("name", "姓名至少两个字 / a name has at least two characters")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError.one("valid_to", "任职结束早于开始 / ends before it starts")
    version = _bump(session, PEOPLE)
    row = CheckPerson(
        name=clean_name,
        title=clean_title,
        valid_from=valid_from,
        valid_to=valid_to,
        note=_text(note, "note", 2000, multiline=True),
        added_version=version,
        created_by=actor.name,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.CHECK_PERSON_ADD,
        data={
            "id": row.id,
            "name": clean_name,
            "title": clean_title,
            "from": valid_from.isoformat(),
            "to": valid_to.isoformat() if valid_to else None,
            "version": version,
        },
    )
    return {"id": row.id, "name": clean_name, "title": clean_title, "version": version}


def remove_person(session: Session, actor: Actor, entry_id: int) -> dict[str, Any]:
    actor.require(Permission.CONFIGURE)
    row = session.execute(
        select(CheckPerson).where(CheckPerson.id == entry_id, CheckPerson.removed_version.is_(None))
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"登记簿中没有第 {entry_id} 条 / no such register entry")
    version = _bump(session, PEOPLE)
    row.removed_version = version
    row.removed_by = actor.name
    row.removed_at = utcnow()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.CHECK_PERSON_REMOVE,
        data={"id": entry_id, "name": row.name, "title": row.title, "version": version},
    )
    return {"id": entry_id, "version": version}


# -- accepted warnings ------------------------------------------------------------------------
def acceptances(session: Session, uid: str) -> dict[str, Acceptance]:
    rows = session.execute(select(CheckAcceptance).where(CheckAcceptance.item_uid == uid)).scalars()
    return {r.key: Acceptance(r.reason, r.accepted_by, r.accepted_at.isoformat(), r.revision) for r in rows}


ACCEPTING_STATES = (ItemState.IN_REVIEW, ItemState.AWAITING_APPROVAL)


@dataclass(frozen=True)
class Accepted:
    key: str
    rule: str
    field: str


def accept(
    session: Session,
    actor: Actor,
    uid: str,
    state: str,
    revision: str,
    problem: Problem | None,
    key: str,
    reason: str,
) -> Accepted:
    """The reviewer accepts one current `warn` problem of the item, with a reason."""
    actor.require(Permission.ITEM_REVIEW)
    if state not in ACCEPTING_STATES:
        raise TransitionError(
            "只有审查或批准阶段的信息可以接受提醒 / warnings are accepted during review or approval", state
        )
    why = (reason or "").strip()
    if not why:
        raise ValidationError.one("reason", "接受提醒须说明理由 / accepting a warning needs a reason")
    if len(why) > 2000:
        raise ValidationError.one("reason", "不超过2000字 / at most 2000 characters")
    if problem is None:
        raise ValidationError.one("key", "该问题不存在或已随修改消失 / no such current problem")
    if problem.severity is not Severity.WARN:
        raise ValidationError.one(
            "key", "“须改正”的问题不能接受，只能修改信息 / a block is cleared only by correcting the item"
        )
    if problem.accepted is not None:
        raise ValidationError.one("key", "该提醒已被接受 / already accepted")
    session.add(
        CheckAcceptance(
            item_uid=uid,
            key=key,
            rule=problem.rule,
            field=problem.field,
            matched=problem.matched[:300],
            reason=why,
            revision=revision,
            accepted_by=actor.name,
            accepted_at=utcnow(),
        )
    )
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action=AuditAction.CHECK_ACCEPT,
        item_uid=uid,
        reason=why,
        data={
            "key": key,
            "rule": problem.rule,
            "field": problem.field,
            "matched": problem.matched[:300],
            "revision": revision,
        },
    )
    return Accepted(key, problem.rule, problem.field)
