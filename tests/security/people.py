"""An office for the "who may publish" tests: a runtime with the rss channel and the embedded
executor, one user per role with a password, the real app, and clients that speak to it the
way people do: `api(name)` with the user's bearer token, `page(name)` logged in through the
login form (its double-submit cookie) and posting forms with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from publisher.runtime import Runtime
from publisher.web import create_app

PASSWORD = "correct horse 电池 staple"
ROLES = {
    "editor": "editor",
    "editor2": "editor",
    "reviewer": "reviewer",
    "reviewer2": "reviewer",
    "approver": "approver",
    "approver2": "approver",
    "ops": "ops",
    "admin": "admin",
    "sysadmin": "sysadmin",
    "secadmin": "secadmin",
    "auditor": "auditor",
}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def flashes(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="flash [a-z]+"[^>]*>([^<]*)', html)]


@dataclass
class Office:
    runtime: Runtime
    app: FastAPI
    tokens: dict[str, str]
    clients: list[TestClient] = field(default_factory=list)

    def api(self, name: str) -> TestClient:
        client = TestClient(self.app, headers={"Authorization": f"Bearer {self.tokens[name]}"})
        self.clients.append(client)
        return client

    def anonymous(self, address: str = "testclient") -> TestClient:
        client = TestClient(self.app, client=(address, 50000))
        self.clients.append(client)
        return client

    def page(self, name: str, password: str = PASSWORD, address: str = "testclient") -> TestClient:
        client = self.anonymous(address)
        r = try_login(client, name, password)
        assert r.status_code == 303, r.text
        return client

    def close(self) -> None:
        for c in self.clients:
            c.close()


def try_login(client: TestClient, name: str, password: str) -> httpx.Response:
    """The login form, filled in and posted with its double-submit CSRF token."""
    form = client.get("/app/login")
    return client.post(
        "/app/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text), "next": "/app/items"},
        follow_redirects=False,
    )


def open_office(make_runtime: Callable[..., Runtime]) -> Office:
    rt = make_runtime(channels={"rss": {"enabled": True}})
    tokens = {}
    for name, role in ROLES.items():
        _actor, tokens[name] = rt.service.add_user(name, role, PASSWORD)
    return Office(rt, create_app(rt), tokens)


def post_form(
    client: TestClient, url: str, data: dict[str, Any] | None = None, page: str = "/app/items"
) -> Any:
    """POST a form as the browser does: with the CSRF token from a page of this session."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf": token, **(data or {})}, follow_redirects=False)


def approve_form(client: TestClient, uid: str, etag: str | None = None) -> Any:
    """The approval as the approver makes it: from the confirmation page, whose form carries
    the CSRF token and the digest of what it showed (unless `etag` says otherwise)."""
    page = client.get(f"/app/items/{uid}/approve").text
    m = re.search(r'name="etag" value="([0-9a-f]*)"', page)
    shown = m.group(1) if m else ""
    return client.post(
        f"/app/items/{uid}/approve",
        data={"csrf": csrf_of(page), "confirm": "yes", "etag": shown if etag is None else etag},
        follow_redirects=False,
    )


def etag_of(html: str) -> str:
    m = re.search(r'name="etag" value="([0-9a-f]+)"', html)
    assert m, "no etag in the approve form"
    return m.group(1)
