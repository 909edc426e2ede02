"""cms adapter without WordPress: pure rendering, pre-flight, and the error tables.

The tables run `send` against `httpx.MockTransport` answers shaped like WordPress's
(`{"code","message","data":{"status"}}`); the behaviour against a real WordPress is in
test_cms_wordpress.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from channels import registry
from channels.base import (
    ChannelConfigError,
    ChannelContext,
    ChannelError,
    Operation,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from channels.cms import CmsChannel, CmsSettings, classify
from channels.cms.render import media_sources, post_slug, rewrite_links
from publisher.domain.item import ItemType
from tests.factories import make_version

BASE = "http://wp.test"
UID = "01jdisclosure000000000test"
TITLE = "上海市财政局2019年政务公开实施方案"
CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000", data_dir=Path("/nonexistent"), agency_name="上海市财政局"
)

Handler = Callable[[httpx.Request], httpx.Response]


def wp_error(status: int, code: str, message: str = "msg", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": message, "data": {"status": status}}, headers=headers
    )


def post_json(
    post_id: int = 7,
    *,
    categories: list[int] | None = None,
    uid: str = UID,
    version: int = 1,
    status: str = "publish",
) -> dict[str, Any]:
    return {
        "id": post_id,
        "status": status,
        "link": f"{BASE}/ab1900010-2019-146/",
        "title": {"raw": TITLE, "rendered": TITLE},
        "categories": [3] if categories is None else categories,
        "tags": [5, 6],
        "meta": {"publisher_uid": uid, "publisher_version": version},
    }


class FakeWordPress:
    """Default answers of a healthy WordPress with the version-2 plugin (idempotent create by
    uid, `X-Publisher-Plugin` on every answer, `/batch/v1`); `override[(method, path)]`
    replaces one answer, `existing` are the posts already there."""

    def __init__(
        self,
        override: dict[tuple[str, str], httpx.Response | Handler] | None = None,
        existing: list[dict[str, Any]] | None = None,
        plugin: str | None = "2",
    ) -> None:
        self.override = override or {}
        self.existing = existing or []
        self.plugin = plugin
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.answer(request.method, request.url.path, request.content, request)
        if self.plugin is not None and "X-Publisher-Plugin" not in response.headers:
            response.headers["X-Publisher-Plugin"] = self.plugin
        return response

    def answer(self, method: str, full_path: str, content: bytes, request: httpx.Request) -> httpx.Response:
        path = full_path.removeprefix("/wp-json/wp/v2")
        self.calls.append((method, path))
        answer = self.override.get((method, path))
        if callable(answer):
            return answer(request)
        if answer is not None:
            return answer
        if (method, path) == ("POST", "/wp-json/batch/v1"):
            answers = []
            for sub in json.loads(content)["requests"]:
                r = self(httpx.Request(sub["method"], BASE + "/wp-json" + sub["path"], json=sub["body"]))
                answers.append({"status": r.status_code, "headers": dict(r.headers), "body": r.json()})
            return httpx.Response(207, json={"responses": answers})
        if (method, path) == ("GET", "/posts"):
            return httpx.Response(200, json=self.existing)
        if (method, path) == ("GET", "/categories"):
            return httpx.Response(200, json=[{"id": 3, "slug": "policy", "name": "政策文件"}])
        if (method, path) == ("POST", "/tags"):
            name = json.loads(content)["name"]
            return httpx.Response(201, json={"id": 5 if name == "政务公开" else 6})
        if (method, path) == ("POST", "/posts"):  # the plugin's create-or-update by uid
            meta = json.loads(content).get("meta") or {}
            held = [p for p in self.existing if p["meta"].get("publisher_uid") == meta.get("publisher_uid")]
            if not held:
                return httpx.Response(201, json=post_json(7, uid=meta.get("publisher_uid", UID)))
            live = held[0]["meta"]["publisher_version"]
            if live > meta.get("publisher_version", 0):
                return httpx.Response(
                    409,
                    json={
                        "code": "publisher_stale_version",
                        "message": "newer",
                        "data": {
                            "status": 409,
                            "post_id": held[0]["id"],
                            "live_version": live,
                            "link": held[0]["link"],
                        },
                    },
                )
            return httpx.Response(
                201,
                json=post_json(held[0]["id"], uid=held[0]["meta"]["publisher_uid"]),
                headers={"X-Publisher-Upsert": "updated"},
            )
        if method == "POST" and path.startswith("/posts/"):
            return httpx.Response(200, json=post_json(int(path.rsplit("/")[-1])))
        if method == "DELETE" and path.startswith("/posts/"):
            return httpx.Response(200, json={**post_json(), "status": "trash"})
        if (method, path) == ("GET", "/ab1900010-2019-146/"):
            return httpx.Response(200, html=f"<html><h1>{TITLE}</h1></html>")
        return httpx.Response(599, text=f"unexpected {method} {path}")


def channel(wp: FakeWordPress, **settings: Any) -> CmsChannel:
    cfg = CmsSettings(
        enabled=True, base_url=BASE, user="admin", app_password=SecretStr("abcd efgh"), **settings
    )
    return CmsChannel(cfg, CONTEXT, transport=httpx.MockTransport(wp))


def publish(ch: CmsChannel, op: Operation = Operation.PUBLISH) -> Any:
    return ch.send(ch.render(make_version(), op), key="d1")


# ------------------------------------------------------------------ the status/code table
@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (200, None, None),
        (201, None, None),
        (301, None, ChannelConfigError),
        (400, "rest_invalid_param", PermanentError),
        (400, "term_exists", PermanentError),
        (401, "rest_not_logged_in", ChannelConfigError),
        (401, "incorrect_password", ChannelConfigError),
        (401, "rest_cannot_create", ChannelConfigError),
        (403, "rest_cannot_edit", ChannelConfigError),
        (404, "rest_no_route", ChannelConfigError),
        (404, "rest_post_invalid_id", PermanentError),
        (408, None, TransientError),
        (410, "rest_already_trashed", PermanentError),
        (413, None, PermanentError),
        (429, None, RateLimitedError),
        (500, "db_insert_error", TransientError),
        (500, "rest_upload_sideload_error", PermanentError),  # file type refused, with a 500
        (502, None, TransientError),
        (503, None, TransientError),
    ],
)
def test_classify_table(status: int, code: str | None, expected: type[ChannelError] | None) -> None:
    assert classify(status, code) is expected


# ------------------------------------------------------------------ send: each step's failures
LOOKUP = ("GET", "/posts")
CREATE = ("POST", "/posts")


@pytest.mark.parametrize(
    ("step", "answer", "expected", "code"),
    [
        (LOOKUP, wp_error(401, "rest_forbidden_context"), ChannelConfigError, "rest_forbidden_context"),
        (LOOKUP, wp_error(403, "rest_forbidden"), ChannelConfigError, "rest_forbidden"),
        (LOOKUP, wp_error(404, "rest_no_route"), ChannelConfigError, "rest_no_route"),
        (LOOKUP, httpx.Response(200, html="<html>login</html>"), ChannelConfigError, None),
        (LOOKUP, httpx.Response(302, headers={"Location": "https://wp.test/"}), ChannelConfigError, None),
        (LOOKUP, wp_error(500, "internal_server_error"), TransientError, "internal_server_error"),
        (LOOKUP, httpx.Response(503, text="maintenance"), TransientError, None),
        (("GET", "/categories"), wp_error(502, "bad_gateway"), TransientError, "bad_gateway"),
        (("POST", "/tags"), wp_error(403, "rest_cannot_create"), ChannelConfigError, "rest_cannot_create"),
        (CREATE, wp_error(400, "rest_invalid_param"), PermanentError, "rest_invalid_param"),
        (CREATE, wp_error(401, "rest_cannot_create"), ChannelConfigError, "rest_cannot_create"),
        (CREATE, wp_error(408, "timeout"), TransientError, "timeout"),
        (CREATE, wp_error(500, "db_insert_error"), TransientError, "db_insert_error"),
    ],
)
def test_send_error_table(
    step: tuple[str, str], answer: httpx.Response, expected: type[ChannelError], code: str | None
) -> None:
    # given: a lookup by uid happens on withdrawal only (publish and update are one write)
    wp = FakeWordPress({step: answer}, existing=[post_json(42)])
    op = Operation.WITHDRAW if step == LOOKUP else Operation.PUBLISH
    # when
    with pytest.raises(ChannelError) as info:
        publish(channel(wp), op)
    # then: the exact class (a subclass would be classified differently) and what is recorded
    assert type(info.value) is expected
    assert info.value.http_status == answer.status_code
    assert info.value.provider_code == code
    assert info.value.message
    assert step in wp.calls
    if expected is not TransientError:
        assert CREATE not in wp.calls or step == CREATE


def test_rate_limited_carries_retry_after() -> None:
    wp = FakeWordPress({CREATE: wp_error(429, "too_many_requests", **{"Retry-After": "17"})})
    with pytest.raises(RateLimitedError) as info:
        publish(channel(wp))
    assert info.value.retry_after == 17.0
    assert info.value.http_status == 429


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped")]
)
def test_transport_failures_are_transient(exc: Exception) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(TransientError) as info:
        publish(channel(FakeWordPress({CREATE: boom})))
    assert type(exc).__name__ in info.value.message


def test_missing_app_password_is_config_error() -> None:
    cfg = CmsSettings(enabled=True, base_url=BASE)
    ch = CmsChannel(cfg, CONTEXT, transport=httpx.MockTransport(FakeWordPress()))
    with pytest.raises(ChannelConfigError, match="应用密码"):
        publish(ch)


# ------------------------------------------------------------------ send: decisions
def test_existing_post_is_updated_not_duplicated() -> None:
    # given: the item's post is there (the answer to the first create was lost)
    wp = FakeWordPress(existing=[post_json(42)])
    # when
    receipt = publish(channel(wp))
    # then: one write, no lookup first; the plugin made it an update of post 42
    assert receipt.external_id == "42" and receipt.data["created"] is False
    assert wp.calls.count(CREATE) == 1 and LOOKUP not in wp.calls


def test_publish_is_one_write_and_one_page() -> None:
    wp = FakeWordPress()
    receipt = publish(channel(wp))
    assert receipt.external_id == "7" and receipt.data["created"] is True
    posts = [c for c in wp.calls if "/posts" in c[1]]
    assert posts == [CREATE]
    assert wp.calls[-1] == ("GET", "/ab1900010-2019-146/")


def test_update_of_a_deleted_post_recreates_it() -> None:
    # given: no post holds the uid any more (deleted by hand): the update creates it again
    wp = FakeWordPress(existing=[])
    receipt = publish(channel(wp), Operation.UPDATE)
    assert receipt.external_id == "7" and receipt.data["created"] is True


@pytest.mark.parametrize("plugin", [None, "1"])
def test_write_without_plugin_2_is_config_error(plugin: str | None) -> None:
    # Plugin 1 (or none) has no idempotent create: a retry could duplicate. Refuse and pause.
    wp = FakeWordPress(plugin=plugin)
    with pytest.raises(ChannelConfigError, match="plugin"):
        publish(channel(wp))


def test_lookup_without_plugin_is_config_error() -> None:
    # Without the mu-plugin, WordPress ignores ?publisher_uid= and lists every post, without meta.
    wp = FakeWordPress(
        existing=[{"id": 1, "status": "publish", "link": f"{BASE}/hello/", "meta": []}], plugin=None
    )
    with pytest.raises(ChannelConfigError, match="plugin"):
        publish(channel(wp), Operation.WITHDRAW)
    assert not any(m in ("POST", "DELETE") for m, _ in wp.calls)


def test_meta_dropped_on_create_is_config_error() -> None:
    no_meta = {**post_json(), "meta": []}
    wp = FakeWordPress({CREATE: httpx.Response(201, json=no_meta)})
    with pytest.raises(ChannelConfigError, match="plugin"):
        publish(channel(wp))


def test_category_dropped_twice_is_permanent() -> None:
    # WordPress answers 201 with categories: [] for an unknown id.
    dropped = httpx.Response(201, json=post_json(categories=[]))
    wp = FakeWordPress(
        {CREATE: dropped, ("POST", "/posts/7"): httpx.Response(200, json=post_json(categories=[]))}
    )
    with pytest.raises(PermanentError, match="category") as info:
        publish(channel(wp))
    assert info.value.response_excerpt == "[]"
    assert wp.calls.count(("GET", "/categories")) == 2  # re-resolved once, fresh


def test_category_dropped_once_is_repaired() -> None:
    wp = FakeWordPress({CREATE: httpx.Response(201, json=post_json(categories=[]))})
    receipt = publish(channel(wp))
    assert receipt.external_id == "7"
    assert ("POST", "/posts/7") in wp.calls


def test_missing_category_is_created() -> None:
    created: list[dict[str, Any]] = []

    def create(request: httpx.Request) -> httpx.Response:
        created.append(json.loads(request.content))
        return httpx.Response(201, json={"id": 3})

    wp = FakeWordPress(
        {("GET", "/categories"): httpx.Response(200, json=[]), ("POST", "/categories"): create}
    )
    publish(channel(wp))
    assert created == [{"slug": "policy", "name": "政策文件"}]


def test_existing_tag_name_reuses_term_id() -> None:
    exists = httpx.Response(
        400, json={"code": "term_exists", "message": "exists", "data": {"status": 400, "term_id": 5}}
    )
    wp = FakeWordPress(
        {("POST", "/tags"): exists, CREATE: httpx.Response(201, json={**post_json(), "tags": [5]})}
    )
    ch = channel(wp)
    assert publish(ch).external_id == "7"
    sent = ch.render(make_version(), Operation.PUBLISH)
    assert sent.body["tags"] == ["政务公开", "实施方案"]


def test_stale_version_does_not_overwrite_newer() -> None:
    wp = FakeWordPress(existing=[post_json(42, version=3)])
    receipt = publish(channel(wp))
    assert receipt.data["stale"] is True and receipt.external_id == "42"
    assert receipt.data["live_version"] == 3
    assert wp.calls.count(CREATE) == 1 and not any(
        c[0] == "POST" and c[1] != "/posts" and "/posts" in c[1] for c in wp.calls
    )


# ------------------------------------------------------------------ send_many: /batch/v1
BATCH = ("POST", "/wp-json/batch/v1")


def many(ch: CmsChannel, uids: list[str], op: Operation = Operation.PUBLISH) -> list[Any]:
    return ch.send_many([(ch.render(make_version(uid=u), op), f"k{n}") for n, u in enumerate(uids)])


def test_batch_writes_all_posts_in_one_request() -> None:
    # given
    wp = FakeWordPress(existing=[post_json(42, uid="u-2")])
    ch = channel(wp)
    # when
    out = many(ch, ["u-1", "u-2", "u-3"])
    # then: one batch request, one outcome per post, each verified on its page
    assert ch.batch_size == 10
    assert [type(o).__name__ for o in out] == ["Receipt"] * 3
    assert [o.external_id for o in out] == ["7", "42", "7"]
    assert [o.data["created"] for o in out] == [True, False, True]
    assert wp.calls.count(BATCH) == 1
    assert wp.calls.count(("GET", "/ab1900010-2019-146/")) == 3


def test_batch_failure_of_one_post_is_that_posts_alone() -> None:
    def create(request: httpx.Request) -> httpx.Response:
        uid = json.loads(request.content)["meta"]["publisher_uid"]
        if uid == "u-2":
            return wp_error(400, "rest_invalid_param")
        return httpx.Response(201, json=post_json(7, uid=uid))

    out = many(channel(FakeWordPress({CREATE: create})), ["u-1", "u-2", "u-3"])
    assert [type(o).__name__ for o in out] == ["Receipt", "PermanentError", "Receipt"]
    assert out[1].provider_code == "rest_invalid_param"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (wp_error(401, "rest_not_logged_in"), ChannelConfigError),
        (wp_error(503, "maintenance"), TransientError),
        (wp_error(404, "rest_no_route"), ChannelConfigError),  # WordPress older than 5.6
        (httpx.Response(200, json={"unexpected": True}), ChannelConfigError),
    ],
)
def test_batch_failure_of_the_whole_request(answer: httpx.Response, expected: type[ChannelError]) -> None:
    out = many(channel(FakeWordPress({BATCH: answer})), ["u-1", "u-2"])
    assert [type(o) for o in out] == [expected, expected]


def test_batch_transport_failure_is_transient_for_all() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    out = many(channel(FakeWordPress({BATCH: boom})), ["u-1", "u-2"])
    assert all(isinstance(o, TransientError) for o in out)


def test_batch_page_not_live_fails_only_that_post() -> None:
    pages = iter([httpx.Response(200, html=f"<h1>{TITLE}</h1>"), httpx.Response(404, html="nf")])

    out = many(
        channel(
            FakeWordPress(
                {("GET", "/ab1900010-2019-146/"): lambda r: next(pages)},
            ),
            verify_concurrency=1,
        ),
        ["u-1", "u-2"],
    )
    assert type(out[0]).__name__ == "Receipt" and isinstance(out[1], TransientError)


def test_batch_withdrawals_go_one_by_one() -> None:
    wp = FakeWordPress(
        {("GET", "/ab1900010-2019-146/"): httpx.Response(404)},
        existing=[post_json(42, uid="u-1"), post_json(43, uid="u-2")],
    )
    out = many(channel(wp), ["u-1", "u-2"], Operation.WITHDRAW)
    assert [o.external_id for o in out] == ["42", "43"]
    assert (
        BATCH not in wp.calls and ("DELETE", "/posts/42") in wp.calls and ("DELETE", "/posts/43") in wp.calls
    )


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (httpx.Response(404, html="not found"), "404"),
        (httpx.Response(200, html="<html>某个别的页面</html>"), "title"),
    ],
)
def test_not_live_is_transient(page: httpx.Response, reason: str) -> None:
    wp = FakeWordPress({("GET", "/ab1900010-2019-146/"): page})
    with pytest.raises(TransientError, match="not live yet") as info:
        publish(channel(wp))
    assert reason in info.value.message


@pytest.mark.parametrize(("mode", "header"), [("light", "1"), ("full", None)])
def test_live_check_mode_decides_the_header(mode: str, header: str | None) -> None:
    seen: list[httpx.Request] = []

    def page(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html=f"<html><h1>{TITLE}</h1></html>")

    wp = FakeWordPress({("GET", "/ab1900010-2019-146/"): page})
    publish(channel(wp, live_check=mode))
    assert len(seen) == 1
    assert seen[0].headers.get("X-Publisher-Live-Check") == header
    assert "authorization" not in seen[0].headers  # the public page never sees the password


def test_verify_live_off_skips_page() -> None:
    wp = FakeWordPress({("GET", "/ab1900010-2019-146/"): httpx.Response(404)})
    assert publish(channel(wp, verify_live=False)).url == f"{BASE}/ab1900010-2019-146/"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (wp_error(410, "rest_already_trashed"), None),
        (wp_error(404, "rest_post_invalid_id"), None),
        (wp_error(403, "rest_cannot_delete"), ChannelConfigError),
        (wp_error(500, "db_update_error"), TransientError),
        (wp_error(404, "rest_no_route"), ChannelConfigError),
    ],
)
def test_withdraw_table(answer: httpx.Response, expected: type[ChannelError] | None) -> None:
    wp = FakeWordPress(
        {("DELETE", "/posts/42"): answer, ("GET", "/ab1900010-2019-146/"): httpx.Response(404)},
        existing=[post_json(42)],
    )
    ch = channel(wp)
    if expected is None:
        assert publish(ch, Operation.WITHDRAW).external_id == "42"
    else:
        with pytest.raises(ChannelError) as info:
            publish(ch, Operation.WITHDRAW)
        assert type(info.value) is expected
        assert info.value.provider_code == json.loads(answer.content)["code"]


def test_withdraw_of_absent_post_succeeds() -> None:
    wp = FakeWordPress()
    receipt = publish(channel(wp), Operation.WITHDRAW)
    assert receipt.external_id is None and receipt.data["absent"] is True
    assert wp.calls == [LOOKUP]


def test_withdraw_still_live_is_transient() -> None:
    wp = FakeWordPress(existing=[post_json(42)])
    with pytest.raises(TransientError, match="still live"):
        publish(channel(wp), Operation.WITHDRAW)


def test_media_fetch_failures() -> None:
    body = '<p>图</p><img src="http://img.test/a.png" alt="图一">'
    version = make_version(body_html=body)

    def run(answer: httpx.Response) -> ChannelError:
        ch = channel(FakeWordPress({("GET", "/a.png"): answer}), max_media_bytes=10)
        with pytest.raises(ChannelError) as info:
            ch.send(ch.render(version, Operation.PUBLISH), key="d1")
        return info.value

    assert type(run(httpx.Response(404))) is PermanentError
    assert type(run(httpx.Response(403))) is PermanentError  # the source's 403 is not our credentials
    assert type(run(httpx.Response(503))) is TransientError
    too_big = run(httpx.Response(200, content=b"x" * 11, headers={"Content-Type": "image/png"}))
    assert type(too_big) is PermanentError and "larger" in too_big.message


def test_media_fetch_never_sends_credentials() -> None:
    seen: list[httpx.Request] = []

    def image(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\x89PNG....", headers={"Content-Type": "image/png"})

    uploaded = httpx.Response(201, json={"id": 9, "source_url": f"{BASE}/wp-content/uploads/x.png"})
    wp = FakeWordPress(
        {
            ("GET", "/a.png"): image,
            ("GET", "/media"): httpx.Response(200, json=[]),
            ("POST", "/media"): uploaded,
        }
    )
    ch = channel(wp)
    ch.send(
        ch.render(make_version(body_html='<img src="http://img.test/a.png">'), Operation.PUBLISH), key="d"
    )
    assert seen and all("authorization" not in r.headers for r in seen)


# ------------------------------------------------------------------ render and check (pure)
def test_render_policy() -> None:
    ch = channel(FakeWordPress())
    payload = ch.render(make_version(), Operation.PUBLISH)
    post = payload.body["post"]
    assert payload.kind == "cms" and payload.uid == UID and payload.version == 1
    assert post["title"] == TITLE and post["status"] == "publish"
    assert post["excerpt"] == make_version().description
    assert post["slug"] == "ab1900010-2019-146"
    for label in ("印发日期", "文号", "发文机关", "是否有效", "索取号", "内容描述"):
        assert f"<th>{label}</th>" in post["content"]
    assert "沪财预〔2019〕12号" in post["content"] and "<h2>一、总体要求</h2>" in post["content"]
    assert "publisher-validity-banner" not in post["content"]
    assert post["meta"] == {
        "publisher_uid": UID,
        "publisher_version": 1,
        "index_number": "AB1900010-2019-146",
        "doc_number": "沪财预〔2019〕12号",
        "issue_date": "2019-04-04",
        "issuing_body": "上海市财政局",
        "validity": "有效",
        "validity_changed_on": "",
    }
    assert payload.body["category_slug"] == "policy" and payload.body["category_name"] == "政策文件"
    assert payload.body["tags"] == ["政务公开", "实施方案"]
    json.dumps(payload.body)  # JSON-ready


def test_render_abolished_shows_banner_and_meta() -> None:
    v = make_version(validity="已废止", validity_changed_on=date(2020, 1, 1), version=2)
    post = channel(FakeWordPress()).render(v, Operation.UPDATE).body["post"]
    assert "本文件已废止（2020-01-01起）" in post["content"]
    assert post["content"].index("publisher-validity-banner") < post["content"].index(
        "publisher-disclosure-meta"
    )
    assert post["meta"]["validity"] == "已废止" and post["meta"]["validity_changed_on"] == "2020-01-01"


def test_render_escapes_metadata() -> None:
    v = make_version(description="<script>alert(1)</script> & 说明")
    content = channel(FakeWordPress()).render(v, Operation.PUBLISH).body["post"]["content"]
    assert "<script>" not in content and "&lt;script&gt;" in content


def test_render_withdraw_notice() -> None:
    v = make_version(withdrawn=True, withdraw_reason="内容有误")
    body = channel(FakeWordPress(), withdraw_mode="notice").render(v, Operation.WITHDRAW).body
    assert body["withdraw_mode"] == "notice"
    assert body["post"]["title"] == "【已撤回】" + TITLE
    assert "撤回原因：内容有误" in body["post"]["content"] and "正文第一段" not in body["post"]["content"]
    assert body["media"] == []


def test_render_interpretation_category_and_custom_slugs() -> None:
    v = make_version(type=ItemType.INTERPRETATION, interprets="policy-uid", title="解读")
    assert (
        channel(FakeWordPress()).render(v, Operation.PUBLISH).body["category_slug"] == "policy-interpretation"
    )
    ch = channel(FakeWordPress(), category_slugs={"interpretation": "zcjd"})
    assert ch.render(v, Operation.PUBLISH).body["category_slug"] == "zcjd"
    assert ch.render(make_version(), Operation.PUBLISH).body["category_slug"] == "policy"


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValidationError):
        CmsSettings(category_slugs={"policy": "政策"})
    with pytest.raises(ValidationError):
        CmsSettings(withdraw_mode="delete")
    with pytest.raises(ValidationError):
        CmsSettings(base_url="ftp://x")


def test_registry_builds_from_config_section() -> None:
    ctx = replace(CONTEXT, secret=lambda name: "s3cret" if name == "app_password" else None)
    ch = registry.create(
        "cms",
        {"enabled": True, "base_url": BASE, "user": "ed", "app_password_env": "PUBLISHER_CMS_APP_PASSWORD"},
        ctx,
    )
    assert isinstance(ch, CmsChannel)
    assert ch.cfg.app_password is not None and ch.cfg.app_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(ch.cfg)


def test_media_sources_and_rewrite() -> None:
    body = (
        '<p><img src="http://a.test/1.png" alt="一"><img src="https://a.test/1.png">'
        '<img src="mailto:x"><a href="http://a.test/f.PDF">文件</a><a href="http://a.test/page">页</a></p>'
    )
    found = media_sources(
        body,
        (
            {"title": "附件一", "url": "http://a.test/att.xlsx"},
            {"title": "重复", "url": "http://a.test/f.PDF"},
        ),
    )
    assert [(m["url"], m["kind"]) for m in found] == [
        ("http://a.test/1.png", "image"),
        ("https://a.test/1.png", "image"),
        ("http://a.test/f.PDF", "file"),
        ("http://a.test/att.xlsx", "file"),
    ]
    out = rewrite_links(
        body, {"http://a.test/1.png": "http://wp/u/1.png", "http://a.test/f.PDF": "http://wp/f.pdf"}
    )
    assert 'src="http://wp/u/1.png"' in out and 'href="http://wp/f.pdf"' in out
    assert 'src="https://a.test/1.png"' in out and 'href="http://a.test/page"' in out


def test_slug_falls_back_to_uid() -> None:
    assert post_slug(make_version(index_number="000014349/2018-00222")) == "000014349-2018-00222"
    assert post_slug(make_version(index_number="")) == UID


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "长" * 201}, "title"),
        ({"title": "  "}, "title"),
        ({"body_html": "<p> </p>"}, "body_html"),
    ],
)
def test_check_problems(overrides: dict[str, Any], field: str) -> None:
    problems = channel(FakeWordPress()).check(make_version(**overrides))
    assert [p.field for p in problems] == [field]


def test_check_clean_version() -> None:
    assert channel(FakeWordPress()).check(make_version()) == []
    assert channel(FakeWordPress()).check(make_version(body_html='<img src="http://a.test/1.png">')) == []
