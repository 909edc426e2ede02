"""Bad query values are refused, never a 500: every query parameter of every GET route
(found from the app itself, so a new route is swept too) gets absurd numbers, negative and
zero page numbers, impossible dates, unknown enum values, junk and very long text, on
SQLite and PostgreSQL. The API answers 2xx/4xx in its error shape; a page answers 2xx/3xx
or a Chinese error page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.publisher.web.pages.conftest import PASSWORD, log_in
from tests.samples import policy

HOSTILE = [
    "99999999999999999999999999999",  # past every integer column
    "9223372036854775808",  # one past BIGINT
    "-1",
    "0",
    "NaN",
    "abc",
    "2026-13-45",
    "9999-12-31T99:99",
    "x" * 5000,
    "%ff%fe",
    "'; DROP TABLE items; --",
    "²",  # str.isdigit() says yes, int() refuses it
    "١٢",  # Arabic-Indic digits: int() reads them, a page number must not
]
# hand-read query parameters, beside the ones FastAPI declares
EXTRA: dict[str, list[str]] = {"/app/items": ["page", "after", "before"]}
SKIP = re.compile(r"^/(static|docs|redoc|openapi\.json)|^/callbacks/|^/app/logout$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def all_routes(routes: list[Any]) -> Iterator[Route]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from all_routes(included.routes)
        elif isinstance(route, Route):
            yield route


def query_params(route: Route) -> list[str]:
    names = [p.alias for p in route.dependant.query_params] if isinstance(route, APIRoute) else []
    return sorted({*names, *EXTRA.get(route.path, [])})


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


@pytest.fixture
def site(make_runtime: Callable[..., Runtime]) -> Iterator[tuple[FastAPI, dict[str, str], str]]:
    rt = make_runtime(
        channels={"rss": {"enabled": True}}, routing={"policy": ["rss"], "interpretation": ["rss"]}
    )
    actors = {}
    for name in ("editor", "reviewer", "approver", "admin"):
        actors[name], token = rt.service.add_user(name, name, PASSWORD)
    item = rt.service.create_item(actors["editor"], policy())
    rt.service.submit(actors["editor"], item.uid)
    rt.service.review(actors["reviewer"], item.uid)
    rt.service.approve(actors["approver"], item.uid)
    delivery = rt.service.deliveries(item.uid)[0]
    values = {
        "uid": item.uid,
        "uid_or_ref": item.uid,
        "year": "2026",
        "channel": "rss",
        "name": "rss",
        "id": str(delivery["id"]),
        "delivery_id": str(delivery["id"]),
        "catalogue": "administrative-fees",
        "fmt": "csv",
        "key": "all",
    }
    yield create_app(rt), values, token


def sweep(app: FastAPI) -> list[tuple[str, str, bool]]:
    """(path, query parameter, whether the route is an HTML page)."""
    out = []
    for route in all_routes(app.routes):
        if "GET" not in (route.methods or set()) or SKIP.search(route.path):
            continue
        page = isinstance(route, APIRoute) and route.response_class is HTMLResponse
        for name in query_params(route):
            out.append((route.path, name, page))
    return out


def test_every_query_parameter_refuses_bad_values_without_a_500(
    site: tuple[FastAPI, dict[str, str], str],
) -> None:
    app, values, token = site
    targets = sweep(app)
    assert ("/app/ops/audit", "before", True) in targets and ("/api/items", "limit", False) in targets
    failures = []
    with (
        TestClient(app, raise_server_exceptions=False) as page,
        TestClient(app, raise_server_exceptions=False) as api,
    ):
        log_in(page, "admin")
        for path, name, is_page in targets:
            url = fill(path, values)
            for value in HOSTILE:
                target = f"{url}?{name}={quote(value, safe='%')}"
                if path.startswith("/api/"):
                    r = api.get(target, headers={"Authorization": f"Bearer {token}"})
                    if r.status_code >= 500 or (r.status_code >= 400 and "errors" not in r.json()):
                        failures.append(f"{r.status_code} {target[:120]}")
                else:
                    r = page.get(target, headers={"Accept": "text/html"}, follow_redirects=False)
                    html = "text/html" in r.headers.get("content-type", "")
                    # a page refuses with a Chinese page; a download or feed may answer JSON
                    refused_badly = r.status_code >= 400 and (
                        (is_page and not html) or (html and not CJK.search(r.text))
                    )
                    if r.status_code >= 500 or refused_badly:
                        failures.append(f"{r.status_code} {target[:120]}")
    assert failures == []


def test_every_path_parameter_refuses_bad_values_without_a_500(
    site: tuple[FastAPI, dict[str, str], str],
) -> None:
    app, values, token = site
    failures = []
    with (
        TestClient(app, raise_server_exceptions=False) as page,
        TestClient(app, raise_server_exceptions=False) as api,
    ):
        log_in(page, "admin")
        for route in all_routes(app.routes):
            if "GET" not in (route.methods or set()) or SKIP.search(route.path) or "{" not in route.path:
                continue
            is_page = isinstance(route, APIRoute) and route.response_class is HTMLResponse
            for name in re.findall(r"\{(\w+)", route.path):
                for value in HOSTILE:
                    target = fill(route.path, {**values, name: quote(value, safe="%")})
                    if route.path.startswith("/api/"):
                        r = api.get(target, headers={"Authorization": f"Bearer {token}"})
                        bad = r.status_code >= 400 and "errors" not in r.json()
                    else:
                        r = page.get(target, headers={"Accept": "text/html"}, follow_redirects=False)
                        html = "text/html" in r.headers.get("content-type", "")
                        bad = r.status_code >= 400 and (
                            (is_page and not html) or (html and not CJK.search(r.text))
                        )
                    if r.status_code >= 500 or bad:
                        failures.append(f"{r.status_code} {target[:120]}")
    assert failures == []
