"""Public pages: the list of disclosed information (`/items`), one item (`/items/{uid}`) and
the feed subscription page (`/feeds`). These are the link targets when no CMS is configured.

Pages show the version that is live for the public: the item's live version, except while a
revision is approved but scheduled for later (then the version before it stays up). A
withdrawn item answers 410 with a notice. Every page carries feed discovery links.
The feed files themselves are served by `publisher.web.feeds`, included here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from publisher.domain.item import ITEM_TYPE_LABELS, ItemType
from publisher.editorial.public import PAGE_SIZE, Gone, cn_date, list_page
from publisher.editorial.public import item_page as public_item
from publisher.runtime import Runtime
from publisher.web import feeds, markup

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
_UID = re.compile(r"^[0-9a-z]{26}$")


TEMPLATES.env.filters["cn_date"] = cn_date
markup.install(TEMPLATES.env)


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
    total, rows = list_page(runtime.db, type=type, page=number)
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
    found = public_item(runtime.db, runtime.settings, uid)
    if found == "missing":
        return _not_found(request, runtime, "未找到该信息 / no such item")
    if found == "scheduled":
        return _not_found(request, runtime, "该信息尚未发布 / not published yet")
    if isinstance(found, Gone):
        return _page(
            request,
            "public/gone.html",
            {
                "title": found.title,
                "withdrawn_on": found.withdrawn_on,
                "reason": found.reason,
                "feeds": _discovery(runtime),
            },
            410,
        )
    assert not isinstance(found, str)
    view = found.view
    return _page(
        request,
        "public/item.html",
        {
            "v": view,
            "policy": found.policy,
            "interpretations": found.interpretations,
            "abolished_by": found.abolished_by,
            "published": cn_date(view.published_at),
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


__all__ = ["PAGE_SIZE", "router"]
