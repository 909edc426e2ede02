"""Public pages: the list of disclosed information (`/items`), one item (`/items/{uid}`) and
the feed subscription page (`/feeds`). These are the link targets when no CMS is configured.

Pages show the version that is live for the public: the item's live version, except while a
revision is approved but scheduled for later (then the version before it stays up). A
withdrawn item answers 410 with a notice. Every page carries feed discovery links.
The feed files themselves are served by `publisher.web.feeds`, included here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.domain.clock import local, utcnow
from publisher.domain.item import ITEM_TYPE_LABELS, ItemState, ItemType, VersionView
from publisher.editorial.workflow import view_of
from publisher.runtime import Runtime
from publisher.store.models import Item, ItemVersion
from publisher.web import feeds

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
PAGE_SIZE = 20
_UID = re.compile(r"^[0-9a-z]{26}$")


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d")
    return value.isoformat()


TEMPLATES.env.filters["cn_date"] = _date


# -- read helpers ------------------------------------------------------------------------------
def public_version(item: Item, now: datetime | None = None) -> ItemVersion | None:
    """The version the public sees, or None while nothing is released yet."""
    if item.live_version is None or item.published_at is None:
        return None
    now = now or utcnow()
    if item.state == ItemState.APPROVED and item.publish_at is not None and item.publish_at > now:
        earlier = [v for v in item.versions if v.number < item.live_version]
        return max(earlier, key=lambda v: v.number) if earlier else None
    return next((v for v in item.versions if v.number == item.live_version), None)


@dataclass(frozen=True)
class ListRow:
    uid: str
    title: str
    type_label: str
    index_number: str
    doc_number: str
    issue_date: str
    published: str
    validity: str


@dataclass(frozen=True)
class Related:
    uid: str
    title: str
    type_label: str


def _released(stmt: Any) -> Any:
    return stmt.where(
        Item.live_version.is_not(None), Item.published_at.is_not(None), Item.state != ItemState.WITHDRAWN
    )


def list_public(session: Session, *, type: str | None, page: int) -> tuple[int, list[ListRow]]:
    stmt = _released(select(Item))
    if type:
        stmt = stmt.where(Item.type == type)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = (
        session.execute(
            stmt.order_by(Item.published_at.desc(), Item.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    rows = []
    now = utcnow()
    for item in items:
        version = public_version(item, now)
        if version is None:
            continue
        c = version.content
        rows.append(
            ListRow(
                uid=item.uid,
                title=c.get("title") or item.title,
                type_label=ITEM_TYPE_LABELS[ItemType(item.type)],
                index_number=c.get("index_number") or "",
                doc_number=c.get("doc_number") or "",
                issue_date=c.get("issue_date") or "",
                published=_date(item.published_at),
                validity=c.get("validity") or "有效",
            )
        )
    return total, rows


def _related(session: Session, uids: list[str]) -> list[Related]:
    if not uids:
        return []
    items = session.execute(_released(select(Item)).where(Item.uid.in_(uids))).scalars().all()
    by_uid = {i.uid: i for i in items}
    out = []
    for uid in uids:
        item = by_uid.get(uid)
        version = public_version(item) if item is not None else None
        if item is not None and version is not None:
            out.append(
                Related(
                    uid, version.content.get("title") or item.title, ITEM_TYPE_LABELS[ItemType(item.type)]
                )
            )
    return out


def _discovery(
    runtime: Runtime, *, type: str | None = None, subject: str | None = None
) -> list[dict[str, str]]:
    """<link rel="alternate"> targets: all items, the type's feed, the subject classes' feeds."""
    base = runtime.settings.public_base_url.rstrip("/")
    title = f"{runtime.settings.agency.name} 政府信息公开"
    links = [("全部信息", "all")]
    if type:
        links.append((ITEM_TYPE_LABELS[ItemType(type)], f"type/{type}"))
    if subject:
        subjects: dict[str, str] = feeds.read_index(runtime.settings).get("subjects", {})
        by_name = {name: sid for sid, name in subjects.items()}
        parts = [p for p in subject.split("\\") if p]
        for i in range(len(parts)):
            name = "\\".join(parts[: i + 1])
            if name in by_name:
                links.append((name.replace("\\", " / "), f"subject/{by_name[name]}"))
    out = []
    for label, key in links:
        out.append(
            {
                "type": "application/rss+xml",
                "title": f"{title} · {label} (RSS)",
                "href": f"{base}/feeds/{key}.rss",
            }
        )
        out.append(
            {
                "type": "application/atom+xml",
                "title": f"{title} · {label} (Atom)",
                "href": f"{base}/feeds/{key}.atom",
            }
        )
    return out


# -- routes ------------------------------------------------------------------------------------
router = APIRouter(include_in_schema=False)
router.include_router(feeds.router)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    context.setdefault("agency", _runtime(request).settings.agency.name)
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    return response


def _not_found(request: Request, runtime: Runtime, message: str) -> HTMLResponse:
    return _page(request, "public/notfound.html", {"message": message, "feeds": _discovery(runtime)}, 404)


@router.get("/items", response_class=HTMLResponse)
def item_list(request: Request, type: str | None = None, page: str = "1") -> HTMLResponse:
    runtime = _runtime(request)
    type = type or None
    if type is not None and type not in ITEM_TYPE_LABELS:
        return _not_found(request, runtime, "没有这一类信息 / unknown item type")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    with runtime.db.reader() as session:
        total, rows = list_public(session, type=type, page=number)
    pages = max(1, -(-total // PAGE_SIZE))
    return _page(
        request,
        "public/list.html",
        {
            "rows": rows,
            "total": total,
            "page": number,
            "pages": pages,
            "type": type,
            "types": [(t.value, label) for t, label in ITEM_TYPE_LABELS.items()],
            "type_label": ITEM_TYPE_LABELS[ItemType(type)] if type else None,
            "feeds": _discovery(runtime, type=type),
        },
    )


@router.get("/items/{uid}", response_class=HTMLResponse)
def item_page(request: Request, uid: str) -> HTMLResponse:
    runtime = _runtime(request)
    if not _UID.match(uid):
        return _not_found(request, runtime, "未找到该信息 / no such item")
    with runtime.db.reader() as session:
        item = session.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
        if item is None or item.live_version is None:
            return _not_found(request, runtime, "未找到该信息 / no such item")
        if item.state == ItemState.WITHDRAWN:
            live = next(v for v in item.versions if v.number == item.live_version)
            return _page(
                request,
                "public/gone.html",
                {
                    "title": live.content.get("title") or item.title,
                    "withdrawn_on": _date(item.withdrawn_at),
                    "reason": item.withdraw_reason,
                    "feeds": _discovery(runtime),
                },
                410,
            )
        version = public_version(item)
        if version is None:
            return _not_found(request, runtime, "该信息尚未发布 / not published yet")
        view: VersionView = view_of(session, runtime.settings, item, version)
        policy = _related(session, [view.interprets]) if view.interprets else []
        interpretations = _related(session, list(view.interpreted_by))
        abolished_by = _related(session, [view.abolished_by]) if view.abolished_by else []
    return _page(
        request,
        "public/item.html",
        {
            "v": view,
            "policy": policy,
            "interpretations": interpretations,
            "abolished_by": abolished_by,
            "published": _date(view.published_at),
            "feeds": _discovery(runtime, type=view.type.value, subject=view.subject),
        },
    )


@router.get("/feeds", response_class=HTMLResponse)
def feed_page(request: Request) -> HTMLResponse:
    runtime = _runtime(request)
    base = runtime.settings.public_base_url.rstrip("/")
    index = feeds.read_index(runtime.settings)
    order = {"all": 0, "type": 1, "subject": 2}
    rows = sorted(index.get("feeds", []), key=lambda f: (order.get(f.get("kind", ""), 3), f.get("label", "")))
    return _page(
        request,
        "public/feeds.html",
        {
            "rows": [
                {
                    **f,
                    "label": str(f.get("label", "")).replace("\\", " / "),
                    "rss_url": f"{base}/feeds/{f['rss']}",
                    "atom_url": f"{base}/feeds/{f['atom']}",
                }
                for f in rows
            ],
            "namespace": index.get("namespace"),
            "feeds": _discovery(runtime),
        },
    )


__all__ = ["list_public", "public_version", "router"]
