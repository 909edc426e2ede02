"""Sessions: login required, wrong password, CSRF on every form, logout, no open redirect."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.publisher.web.pages.conftest import PASSWORD, Site, csrf_of, flashes, log_in, post


def test_pages_need_a_login_and_come_back_after_it(site: Site) -> None:
    client = TestClient(site.app)  # type: ignore[arg-type]
    r = client.get("/app/ops/failed?channel=rss", follow_redirects=False)
    assert (
        r.status_code == 303
        and r.headers["location"] == "/app/login?next=%2Fapp%2Fops%2Ffailed%3Fchannel%3Drss"
    )
    page = client.get(r.headers["location"])
    assert "登录" in page.text
    r = client.post(
        "/app/login",
        data={
            "name": "ops",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "/app/ops/failed?channel=rss",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/ops/failed?channel=rss"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/app/ops/failed?channel=rss").status_code == 200


def test_wrong_password_unknown_user_and_a_forged_login_form_are_refused(site: Site) -> None:
    client = TestClient(site.app)  # type: ignore[arg-type]
    token = csrf_of(client.get("/app/login").text)
    r = client.post("/app/login", data={"name": "editor", "password": "nope", "csrf": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = client.post("/app/login", data={"name": "nobody", "password": PASSWORD, "csrf": csrf_of(r.text)})
    assert r.status_code == 401
    # a login form posted from elsewhere carries no matching double-submit cookie
    other = TestClient(site.app)  # type: ignore[arg-type]
    r = other.post("/app/login", data={"name": "editor", "password": PASSWORD, "csrf": token})
    assert r.status_code == 403 and "过期" in r.text
    assert client.get("/app/items", follow_redirects=False).status_code == 303


def test_every_post_needs_the_session_csrf_token(site: Site) -> None:
    editor = site.login("editor")
    r = editor.post("/app/items/new", data={"type": "policy", "title": "无令牌"}, follow_redirects=False)
    assert r.status_code == 403 and "表单已过期" in r.text
    r = editor.post("/app/items/new", data={"type": "policy", "title": "错令牌", "csrf": "forged"})
    assert r.status_code == 403
    total, _ = site.service.list_items()
    assert total == 0
    # another user's token does not work either
    reviewer = site.login("reviewer")
    stolen = csrf_of(reviewer.get("/app/items").text)
    assert editor.post("/app/items/new", data={"type": "policy", "csrf": stolen}).status_code == 403


def test_logout_ends_the_session_and_next_never_leaves_the_site(site: Site) -> None:
    client = site.login("editor")
    r = post(client, "/app/logout")
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    client.cookies.clear()
    assert client.get("/app/items", follow_redirects=False).status_code == 303
    # an old cookie (kept by a copy) is dead server-side too
    fresh = TestClient(site.app)  # type: ignore[arg-type]
    log_in(fresh, "editor")
    cookie = fresh.cookies.get("publisher_session")
    assert cookie
    post(fresh, "/app/logout")
    replayed = TestClient(site.app, cookies={"publisher_session": cookie})  # type: ignore[arg-type]
    assert replayed.get("/app/items", follow_redirects=False).status_code == 303
    # a tampered cookie is refused before any lookup
    tampered = TestClient(site.app, cookies={"publisher_session": cookie[:-2] + "00"})  # type: ignore[arg-type]
    assert tampered.get("/app/items", follow_redirects=False).status_code == 303
    # next= only ever points inside /app
    page = client.get("/app/login?next=https://evil.example/")
    r = client.post(
        "/app/login",
        data={"name": "editor", "password": PASSWORD, "csrf": csrf_of(page.text), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/app/"
    assert flashes(client.get("/app/items").text) == []
