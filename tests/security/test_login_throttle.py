"""Login throttling, attacked through the login form (its CSRF cookie and token): failures
per user name and per client address end in 429 with Retry-After, even for the right
password; the refusal is an audit event, a burst of failures an alert; and an unknown user
name costs the same password hashing as a known one, so timing tells no names apart.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from publisher.editorial.throttle import LoginThrottle
from publisher.runtime import Runtime
from publisher.store.models import AlertEvent
from tests.security.people import PASSWORD, Office, open_office, try_login


@pytest.fixture
def office(make_runtime: Callable[..., Runtime]) -> Iterator[Office]:
    o = open_office(make_runtime)
    yield o
    o.close()


def _throttled(office: Office) -> list[dict[str, object]]:
    return [e for e in office.api("auditor").get("/api/audit").json() if e["action"] == "login.throttled"]


def test_guessing_one_name_is_throttled_even_for_the_right_password(office: Office) -> None:
    client = office.anonymous("198.51.100.7")
    for _ in range(5):
        assert try_login(client, "editor", "wrong guess 12345").status_code == 401
    r = try_login(client, "editor", PASSWORD)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 900
    assert "登录失败次数过多" in r.text
    # the name is throttled from any address; other names from this address are not
    assert try_login(office.anonymous("203.0.113.9"), "editor", PASSWORD).status_code == 429
    assert try_login(client, "editor2", PASSWORD).status_code == 303
    [event] = _throttled(office)
    assert event["actor"] == "anonymous"
    assert event["data"] == {"user": "editor", "address": "198.51.100.7", "by": "name"}


def test_spraying_names_from_one_address_is_throttled(office: Office) -> None:
    client = office.anonymous("192.0.2.66")
    for i in range(20):
        assert try_login(client, f"nobody-{i}", "wrong guess 12345").status_code == 401
    r = try_login(client, "reviewer", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # the same user from elsewhere still gets in
    assert try_login(office.anonymous("192.0.2.67"), "reviewer", PASSWORD).status_code == 303
    assert [e["data"]["by"] for e in _throttled(office)] == ["address"]  # type: ignore[index]


def test_a_success_clears_the_names_failures(office: Office) -> None:
    client = office.anonymous()
    for _ in range(4):
        try_login(client, "approver", "wrong guess 12345")
    assert try_login(client, "approver", PASSWORD).status_code == 303
    for _ in range(4):
        assert try_login(office.anonymous(), "approver", "wrong guess 12345").status_code == 401
    assert try_login(office.anonymous(), "approver", PASSWORD).status_code == 303


def test_a_burst_of_failures_raises_one_alert(office: Office) -> None:
    office.runtime.service.logins = LoginThrottle(burst=12)
    for i in range(15):
        try_login(office.anonymous(f"10.9.{i}.1"), f"guess-{i}", "wrong guess 12345")
    with office.runtime.db.reader() as s:
        alerts = s.execute(select(AlertEvent).where(AlertEvent.kind == "login.burst")).scalars().all()
        assert [a.data["failures"] for a in alerts] == [12]


def test_an_unknown_name_costs_the_same_work_as_a_known_one(office: Office) -> None:
    def timed(name: str) -> float:
        client = office.anonymous(f"10.1.{len(name)}.{int(time.monotonic() * 1000) % 250}")
        start = time.perf_counter()
        assert try_login(client, name, "wrong guess 12345").status_code == 401
        return time.perf_counter() - start

    # interleaved, so the shared machine's load falls on both alike
    known: list[float] = []
    unknown: list[float] = []
    for i, name in enumerate(["editor", "editor2", "reviewer", "reviewer2"] * 2):
        known.append(timed(name))
        unknown.append(timed(f"no-such-user-{i}"))
    ratio = statistics.median(unknown) / statistics.median(known)
    # without the dummy hash an unknown name answers in a fraction of the known one's time
    assert 0.5 < ratio < 2.0, (statistics.median(known), statistics.median(unknown))
