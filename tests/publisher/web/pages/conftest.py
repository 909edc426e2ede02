"""A runtime with the rss channel and a webhook subscriber (a real local receiver), the
embedded executor, users with passwords, and a TestClient logged in per role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from publisher.editorial.service import Service
from publisher.runtime import Runtime
from publisher.settings import Settings
from publisher.web import create_app
from tests.receiver import Receiver, webhook_channels
from tests.support import policy_form

PASSWORD = "correct horse 电池"
ROLES = {
    "editor": "editor",
    "editor2": "editor",
    "reviewer": "reviewer",
    "approver": "approver",
    "ops": "ops",
    "admin": "admin",
}
FAST_RETRY = {"retry": {"base_seconds": 0.05, "cap_seconds": 0.1, "jitter": 0.0, "max_attempts": 2}}


@dataclass
class Site:
    runtime: Runtime
    receiver: Receiver
    app: object
    login: Callable[[str], TestClient]

    @property
    def service(self) -> Service:
        return self.runtime.service


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/app/login")
    r = client.post(
        "/app/login",
        data={"name": name, "password": password, "csrf": csrf_of(page.text), "next": "/app/items"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def site(settings: Settings, make_runtime: Callable[..., Runtime]) -> Iterator[Site]:
    receiver = Receiver().start()
    channels = {"rss": {"enabled": True}, **webhook_channels(receiver.url, **FAST_RETRY)}
    rt = make_runtime(
        channels,
        threads=1,
        routing={**settings.routing, "policy": ["rss"], "interpretation": ["rss"]},
    )
    for name, role in ROLES.items():
        rt.service.add_user(name, role, PASSWORD)
    app = create_app(rt)
    clients: list[TestClient] = []

    def login(name: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        return log_in(client, name)

    yield Site(rt, receiver, app, login)
    for c in clients:
        c.close()
    rt.close()  # before the receiver stops (make_runtime closes it again, harmlessly)
    receiver.stop()


def post(client: TestClient, url: str, data: dict[str, Any] | None = None, page: str = "/app/items") -> Any:
    """POST a form the way the browser does: with the CSRF token from a page of the session."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf": token, **(data or {})}, follow_redirects=False)


def approve(client: TestClient, uid: str) -> Any:
    """Approve the way the approver does: from the confirmation page, whose form carries the
    CSRF token and the digest of what it showed (publisher.editorial.workflow.approval_etag)."""
    page = client.get(f"/app/items/{uid}/approve").text
    m = re.search(r'name="etag" value="([0-9a-f]*)"', page)
    return client.post(
        f"/app/items/{uid}/approve",
        data={"csrf": csrf_of(page), "confirm": "yes", "etag": m.group(1) if m else ""},
        follow_redirects=False,
    )


def flashes(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="flash [a-z]+"[^>]*>([^<]*)', html)]


def create(client: TestClient, **overrides: str) -> str:
    r = post(client, "/app/items/new", policy_form(**overrides), "/app/items/new")
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).rsplit("/", 1)[1]
