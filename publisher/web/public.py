"""Public pages: the site's home page (`/`), the list of disclosed information (`/items`), one
item (`/items/{uid}`), the feed subscription page (`/feeds`) and the list of annual reports
(`/reports/annual`). These are the link targets when no CMS is configured.

Pages show the version that is live for the public (the rule is in publisher.editorial.public,
which these handlers call; they open no database session). A withdrawn item answers 410 with
a notice. Every page carries feed discovery links. Public pages speak Chinese only.

Absolute links (feeds, discovery) point to the configured public base URL, or, when none is
configured, to where the page was served from, so the site works on any port or behind a
proxy. The feed files themselves are served by `publisher.web.feeds`, included here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from publisher.domain.item import ITEM_TYPE_LABELS, ItemType
from publisher.domain.numbers import ascii_digits
from publisher.editorial.images import TYPES, image_path
from publisher.editorial.public import DOCUMENT_TYPES, PAGE_SIZE, Gone, Site, day
from publisher.runtime import Runtime
from publisher.web import feeds, markup

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
_UID = re.compile(r"^[0-9a-z]{26}$")

TEMPLATES.env.filters["cn_date"] = day

markup.install(TEMPLATES.env)


def base_url(request: Request, runtime: Runtime) -> str:
    """Where absolute public links point: the configured address, else this request's."""
    if runtime.settings.public_base_url_given:
        return runtime.settings.public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def site_of(request: Request) -> Site:
    site: Site | None = getattr(request.app.state, "site", None)
    if site is None:
        runtime = _runtime(request)
        site = request.app.state.site = Site(runtime.db, runtime.settings)
    return site


def _discovery(
    request: Request, runtime: Runtime, *, type: str | None = None, subject: str | None = None
) -> list[dict[str, str]]:
    """<link rel="alternate"> targets: all items, the type's feed, the subject classes' feeds."""
    base = base_url(request, runtime)
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


def show(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A public page: the agency's name, feed discovery links and the site's navigation."""
    runtime = _runtime(request)
    context.setdefault("agency", runtime.settings.agency.name)
    context.setdefault("labels", runtime.settings.agency.labels)
    context.setdefault("feeds", [])
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The public site's error page (Chinese; the JSON API keeps its own error shape)."""
    title = {404: "未找到", 405: "不支持的请求", 410: "已撤回", 422: "请求参数有误"}.get(status, "出错了")
    return show(request, "public/notfound.html", {"title": title, "message": message}, status)


def _not_found(request: Request, runtime: Runtime, message: str) -> HTMLResponse:
    return show(
        request, "public/notfound.html", {"message": message, "feeds": _discovery(request, runtime)}, 404
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    runtime = _runtime(request)
    data = site_of(request).home()
    return show(request, "public/home.html", {"home": data, "feeds": _discovery(request, runtime)})


@router.get("/items", response_class=HTMLResponse)
def item_list(request: Request, type: str | None = None, page: str = "1") -> HTMLResponse:
    runtime = _runtime(request)
    type = type or None
    if type is not None and type not in ITEM_TYPE_LABELS:
        return _not_found(request, runtime, "没有这一类信息。")
    number = int(page) if ascii_digits(page) and 0 < int(page) < 100_000 else 1
    total, rows = site_of(request).list_public(type=type, page=number)
    pages = max(1, -(-total // PAGE_SIZE))
    return show(
        request,
        "public/list.html",
        {
            "rows": rows,
            "total": total,
            "page": number,
            "pages": pages,
            "type": type,
            "types": [(t.value, ITEM_TYPE_LABELS[t]) for t in DOCUMENT_TYPES],
            "type_label": ITEM_TYPE_LABELS[ItemType(type)] if type else None,
            "feeds": _discovery(request, runtime, type=type),
        },
    )


@router.get("/items/{uid}", response_class=HTMLResponse)
def item_page(request: Request, uid: str) -> HTMLResponse:
    runtime = _runtime(request)
    found = site_of(request).item(uid) if _UID.match(uid) else None
    if found is None:
        return _not_found(request, runtime, "未找到该信息，可能尚未发布或地址有误。")
    if isinstance(found, Gone):
        return show(
            request,
            "public/gone.html",
            {
                "title": found.title,
                "withdrawn_on": found.withdrawn_on,
                "reason": found.reason,
                "feeds": _discovery(request, runtime),
            },
            410,
        )
    view = found.view
    return show(
        request,
        "public/item.html",
        {
            "v": view,
            "policy": found.policy,
            "interpretations": found.interpretations,
            "abolished_by": found.abolished_by,
            "published": found.published,
            "feeds": _discovery(request, runtime, type=view.type.value, subject=view.subject),
        },
    )


@router.get("/feeds", response_class=HTMLResponse)
def feed_page(request: Request) -> HTMLResponse:
    runtime = _runtime(request)
    base = base_url(request, runtime)
    index = feeds.read_index(runtime.settings)
    order = {"all": 0, "type": 1, "subject": 2}
    rows = sorted(index.get("feeds", []), key=lambda f: (order.get(f.get("kind", ""), 3), f.get("label", "")))
    return show(
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
            "feeds": _discovery(request, runtime),
        },
    )


@router.get("/media/{uid}/{name}")
def media(request: Request, uid: str, name: str) -> Response:
    """Images uploaded into items' bodies, for the pages and for the channels to re-host."""
    path = image_path(_runtime(request).service, uid, name)
    if path is None:
        return error_page(request, 404, "未找到该图片。")
    return FileResponse(
        path, media_type=TYPES[path.suffix[1:]], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/reports/annual", response_class=HTMLResponse)
def annual_reports(request: Request) -> HTMLResponse:
    runtime = _runtime(request)
    return show(
        request,
        "public/reports.html",
        {"years": site_of(request).report_years(), "feeds": _discovery(request, runtime)},
    )


def install(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    app.state.site = Site(runtime.db, runtime.settings)


__all__ = ["PAGE_SIZE", "base_url", "error_page", "router", "show"]
