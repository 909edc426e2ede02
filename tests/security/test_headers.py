"""Security headers on pages, found by crawling: every GET route without parameters is a
starting point, every same-site link and GET form found on a page is followed (as each
role, and without a session). Every HTML page must carry the Content-Security-Policy
(scripts from our origin only, no framing), nosniff and a Referrer-Policy, and contain no
inline script and no `on*=` handler — so the CSP can forbid inline script without breaking
a page. Cookies: HttpOnly, SameSite=Lax, and Secure when the public base URL is https."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Route

from publisher.domain.item import Role
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.publisher.web.pages.conftest import PASSWORD, log_in
from tests.samples import policy

ROLES = ("editor", "reviewer", "approver", "ops", "admin")
SKIP = re.compile(r"^/(static|api|callbacks)/|\.(csv|xlsx|json|rss|atom|xml)$|^/app/logout$")
LIMIT = 150  # pages per crawl; the seeded site has far fewer


def directives(csp: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in csp.split(";") if d.strip()}


def page_problems(html: str) -> list[str]:
    found = []
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        if not script.get("src") or script.get_text().strip():
            found.append(f"inline script: {str(script)[:80]}")
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            if attr.lower().startswith("on"):
                found.append(f"handler {attr} on <{tag.name}>")
            if attr in ("href", "src", "action") and str(value).strip().lower().startswith("javascript:"):
                found.append(f"{attr}={value}")
    return found


def header_problems(path: str, r: object) -> list[str]:
    headers = r.headers  # type: ignore[attr-defined]
    found = []
    if headers.get("x-content-type-options") != "nosniff":
        found.append(f"{path}: no nosniff")
    if not headers.get("referrer-policy"):
        found.append(f"{path}: no Referrer-Policy")
    if "text/html" in headers.get("content-type", ""):
        csp = directives(headers.get("content-security-policy", ""))
        if csp.get("script-src") != "'self'":
            found.append(f"{path}: script-src {csp.get('script-src')!r}")
        if csp.get("frame-ancestors") != "'none'":
            found.append(f"{path}: frame-ancestors {csp.get('frame-ancestors')!r}")
        if csp.get("object-src") != "'none'" or "base-uri" not in csp:
            found.append(f"{path}: object-src/base-uri missing")
    return found


def all_routes(routes: list[Any]) -> Iterator[Route]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router, unflattened
        if included is not None:
            yield from all_routes(included.routes)
        elif isinstance(route, Route):
            yield route


def start_points(app: FastAPI) -> list[str]:
    out = set()
    for route in all_routes(app.routes):
        if "GET" in (route.methods or set()) and "{" not in route.path and not SKIP.search(route.path):
            if route.path not in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json"):
                out.add(route.path)
    return sorted(out)


def links_of(path: str, html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    targets = [str(a.get("href") or "") for a in soup.find_all("a")]
    targets += [
        str(f.get("action") or path)
        for f in soup.find_all("form")
        if (f.get("method") or "get").lower() == "get"
    ]
    out = []
    for t in targets:
        url = urlsplit(urljoin("http://testserver" + path, t))
        if url.netloc == "testserver" and not SKIP.search(url.path):
            out.append(url.path + (f"?{url.query}" if url.query else ""))
    return out


def crawl(client: TestClient, starts: list[str]) -> tuple[set[str], list[str]]:
    seen: set[str] = set()
    problems: list[str] = []
    queue = deque(starts)
    while queue and len(seen) < LIMIT:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        r = client.get(path, follow_redirects=False)
        problems += header_problems(path, r)
        if r.status_code in (301, 302, 303, 307) and r.headers.get("location", "").startswith("/"):
            queue.append(r.headers["location"])
            continue
        if "text/html" in r.headers.get("content-type", ""):
            problems += [f"{path}: {p}" for p in page_problems(r.text)]
            queue.extend(links_of(path, r.text))
    return seen, problems


@pytest.fixture
def seeded(make_runtime: Callable[..., Runtime]) -> Iterator[tuple[Runtime, FastAPI]]:
    rt = make_runtime(
        channels={"rss": {"enabled": True}}, routing={"policy": ["rss"], "interpretation": ["rss"]}
    )
    actors = {name: rt.service.add_user(name, name, PASSWORD)[0] for name in ROLES}
    actors["approver2"] = rt.service.add_user("approver2", Role.APPROVER.value, PASSWORD)[0]
    published = rt.service.create_item(actors["editor"], policy(title="已发布的信息"))
    rt.service.submit(actors["editor"], published.uid)
    rt.service.review(actors["reviewer"], published.uid)
    rt.service.approve(actors["approver"], published.uid)
    rt.service.create_item(actors["editor"], policy(title="草稿", body_html="<p onclick=x()>正文</p>"))
    yield rt, create_app(rt)


def test_every_page_carries_the_headers_and_no_inline_script(seeded: tuple[Runtime, FastAPI]) -> None:
    _, app = seeded
    starts = start_points(app) + ["/reports/annual/2026"]  # the one parameterised page nothing links to
    assert "/app/items" in starts and "/items" in starts and "/catalogue" in starts
    visited: set[str] = set()
    problems: list[str] = []
    with TestClient(app) as anonymous:
        seen, found = crawl(anonymous, starts)
        visited |= seen
        problems += found
    for role in ROLES:
        with TestClient(app) as client:
            log_in(client, role)
            seen, found = crawl(client, starts)
            visited |= seen
            problems += [f"[{role}] {p}" for p in found]
    assert problems == []
    # the crawl reached the pages that show content: item, preview, timeline, public item
    for pattern in (
        r"^/app/items/\w{26}$",
        r"^/app/items/\w{26}/preview$",
        r"^/app/ops/items/\w{26}$",
        r"^/items/\w{26}$",
    ):
        assert any(re.match(pattern, p) for p in visited), pattern


def test_api_and_downloads_carry_nosniff(seeded: tuple[Runtime, FastAPI]) -> None:
    _, app = seeded
    with TestClient(app) as client:
        for path in ("/healthz", "/catalogue.csv", "/catalogue.json", "/feeds/all.rss", "/api/items"):
            r = client.get(path)
            assert header_problems(path, r) == [], (path, r.status_code)


@pytest.mark.parametrize("base", ["https://gk.example.gov.cn", "http://127.0.0.1:8000"])
def test_session_cookies(make_runtime: Callable[..., Runtime], base: str) -> None:
    rt = make_runtime(channels={"rss": {"enabled": True}}, public_base_url=base, executor=False)
    rt.service.add_user("editor", "editor", PASSWORD)
    with TestClient(create_app(rt), base_url=base.replace("127.0.0.1:8000", "testserver")) as client:
        form = client.get("/app/login")
        cookies = form.headers.get_list("set-cookie")
        page = client.post(
            "/app/login",
            data={
                "name": "editor",
                "password": PASSWORD,
                "csrf": re.search(r'name="csrf" value="([^"]+)"', form.text)[1],
            },  # type: ignore[index]
            follow_redirects=False,
        )
        assert page.status_code == 303
        cookies += page.headers.get_list("set-cookie")
    session = [
        c for c in cookies if not c.lower().startswith("publisher_login") and "max-age=0" not in c.lower()
    ]
    assert session, cookies
    for cookie in cookies:
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert "httponly" in attrs, cookie
        assert "samesite" in attrs, cookie
        assert ("secure" in attrs) is base.startswith("https://"), cookie
    assert any("samesite=lax" in c.lower() for c in session), session
