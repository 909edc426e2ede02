"""cms adapter against a real WordPress (scripts/setup-wordpress.sh: Debian packages, 127.0.0.1).

The session fixture runs the setup script (idempotent, fast when WordPress is up) and fails,
never skips, when WordPress cannot be started. Every test uses fresh item uids and index
numbers, and force-deletes its posts afterwards.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from channels.base import (
    ChannelConfigError,
    ChannelContext,
    Operation,
    PermanentError,
    Receipt,
    TransientError,
)
from channels.cms import CmsChannel
from channels.egress import EgressSettings
from publisher.domain.item import ItemType, VersionView
from tests.factories import make_version
from tests.wordpress_support import *  # noqa: F403  (fixtures: wordpress, admin, uids)
from tests.wordpress_support import ROOT, STATE_DIR, WordPress, posts_for

pytestmark = pytest.mark.wordpress

DB_NAME = os.environ.get("WP_DB_NAME", "publisher_wp")
CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000", data_dir=Path("/nonexistent"), agency_name="上海市财政局"
)


def behind_proxy(wordpress: WordPress) -> ChannelContext:
    """The REST API reached through a proxy (base_url), the permalinks on WordPress's own
    address: a host other than base_url's, on loopback, so allow-listed as an operator would."""
    netloc = wordpress.url.split("://", 1)[1].rstrip("/")
    return replace(CONTEXT, egress=EgressSettings(allow_hosts=frozenset({netloc})))


@pytest.fixture
def cms(wordpress: WordPress) -> Iterator[CmsChannel]:
    ch = CmsChannel(wordpress.settings(), CONTEXT)
    yield ch
    ch.close()


def new_policy(uids: list[str], **overrides: Any) -> VersionView:
    tag = uuid.uuid4().hex
    uid = f"01test{tag[:20]}"
    uids.append(uid)
    values: dict[str, Any] = dict(uid=uid, index_number=f"AB1900010-2019-{int(tag[:8], 16) % 90000 + 10000}")
    values.update(overrides)
    return make_version(**values)


def rows_in_db(uid: str) -> int:
    """Posts carrying this uid, straight from MariaDB: the REST lookup cannot hide any."""
    out = subprocess.run(
        [
            "mariadb",
            "-uroot",
            "-N",
            "-e",
            f"SELECT COUNT(*) FROM `{DB_NAME}`.wp_postmeta m JOIN `{DB_NAME}`.wp_posts p ON p.ID = m.post_id "
            f"WHERE m.meta_key = 'publisher_uid' AND m.meta_value = '{uid}' AND p.post_type = 'post'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def send(ch: CmsChannel, version: VersionView, op: Operation, key: str = "k") -> Receipt:
    return ch.send(ch.render(version, op), key=key)


def term_slugs(admin: httpx.Client, taxonomy: str, ids: list[int]) -> list[str]:
    if not ids:
        return []
    terms = admin.get(f"/{taxonomy}", params={"include": ",".join(map(str, ids))}).json()
    return sorted(t["slug"] if taxonomy == "categories" else t["name"] for t in terms)


# ------------------------------------------------------------------ lifecycle
def test_policy_and_interpretation_lifecycle(cms: CmsChannel, admin: httpx.Client, uids: list[str]) -> None:
    # given: a policy and its interpretation (released together)
    policy = new_policy(uids)
    interp = new_policy(
        uids,
        type=ItemType.INTERPRETATION,
        interprets=policy.uid,
        title='《上海市财政局2019年政务公开实施方案》"政策"解读',
        keywords=("政策解读",),
        description="从三个方面解读实施方案。",
        doc_number=None,
        body_html="<h2>一、制定背景</h2><p>依据要求制定。</p>",
    )

    # when: both are published
    r_policy = send(cms, policy, Operation.PUBLISH)
    r_interp = send(cms, interp, Operation.PUBLISH)

    # then: one live post each, with its category, tags, meta and metadata panel
    for version, receipt, category in (
        (policy, r_policy, "policy"),
        (interp, r_interp, "policy-interpretation"),
    ):
        [post] = posts_for(admin, version.uid)
        assert receipt.external_id == str(post["id"]) and receipt.url == post["link"]
        assert post["status"] == "publish"
        assert post["meta"]["publisher_uid"] == version.uid
        assert post["meta"]["index_number"] == version.index_number
        assert post["meta"]["issue_date"] == "2019-04-04"
        assert post["meta"]["issuing_body"] == "上海市财政局"
        assert post["meta"]["validity"] == "有效"
        assert post["meta"]["publisher_version"] == 1
        assert term_slugs(admin, "categories", post["categories"]) == [category]
        assert term_slugs(admin, "tags", post["tags"]) == sorted(version.keywords)
        assert post["excerpt"]["raw"] == version.description
        page = httpx.get(post["link"])
        assert page.status_code == 200
        for label in ("印发日期", "文号", "发文机关", "是否有效", "索取号", "内容描述"):
            assert label in page.text
        assert version.index_number in page.text
    assert posts_for(admin, policy.uid)[0]["meta"]["doc_number"] == "沪财预〔2019〕12号"
    assert posts_for(admin, interp.uid)[0]["meta"]["doc_number"] == ""

    # when: the policy is abolished (a new version, sent as an update)
    abolished = replace(policy, version=2, validity="已废止", validity_changed_on=date(2020, 1, 1))
    r_update = send(cms, abolished, Operation.UPDATE, key="k2")

    # then: the same post, edited in place, shows it in content and meta
    [post] = posts_for(admin, policy.uid)
    assert r_update.external_id == r_policy.external_id and r_update.data["created"] is False
    assert post["meta"]["validity"] == "已废止" and post["meta"]["validity_changed_on"] == "2020-01-01"
    assert post["meta"]["publisher_version"] == 2
    assert "本文件已废止（2020-01-01起）" in post["content"]["raw"]
    assert "本文件已废止" in httpx.get(post["link"]).text

    # when: both are withdrawn (default mode: trash)
    link = post["link"]
    r_w1 = send(cms, abolished, Operation.WITHDRAW, key="k3")
    r_w2 = send(cms, interp, Operation.WITHDRAW, key="k4")

    # then: both in the trash, the public page gone, still exactly one post per item
    for version, receipt in ((policy, r_w1), (interp, r_w2)):
        [post] = posts_for(admin, version.uid)
        assert post["status"] == "trash" and receipt.external_id == str(post["id"])
        assert rows_in_db(version.uid) == 1
    assert httpx.get(link).status_code == 404

    # a repeated withdrawal (lost response) is a success, and changes nothing
    assert send(cms, abolished, Operation.WITHDRAW, key="k3").external_id == r_w1.external_id
    assert posts_for(admin, policy.uid)[0]["status"] == "trash"


def test_republish_after_withdrawal_restores_the_same_post(
    cms: CmsChannel, admin: httpx.Client, uids: list[str]
) -> None:
    version = new_policy(uids)
    first = send(cms, version, Operation.PUBLISH)
    send(cms, version, Operation.WITHDRAW)
    again = send(cms, replace(version, version=2), Operation.PUBLISH)
    assert again.external_id == first.external_id
    [post] = posts_for(admin, version.uid)
    assert post["status"] == "publish" and httpx.get(post["link"]).status_code == 200


def test_withdraw_with_notice(wordpress: WordPress, admin: httpx.Client, uids: list[str]) -> None:
    ch = CmsChannel(wordpress.settings(withdraw_mode="notice"), CONTEXT)
    version = new_policy(uids)
    published = send(ch, version, Operation.PUBLISH)
    withdrawn = replace(version, version=2, withdrawn=True, withdraw_reason="内容需要更正")
    receipt = send(ch, withdrawn, Operation.WITHDRAW)
    [post] = posts_for(admin, version.uid)
    assert receipt.external_id == published.external_id
    assert post["status"] == "publish"
    assert post["title"]["raw"] == "【已撤回】" + version.title
    assert "撤回原因：内容需要更正" in post["content"]["raw"] and "正文第一段" not in post["content"]["raw"]
    assert "【已撤回】" in httpx.get(post["link"]).text
    ch.close()


def test_withdraw_of_unknown_item_is_success(cms: CmsChannel, uids: list[str]) -> None:
    receipt = send(cms, new_policy(uids), Operation.WITHDRAW)
    assert receipt.external_id is None and receipt.data["absent"] is True


# ------------------------------------------------------------------ idempotency through a lossy proxy
class DroppingProxy:
    """A forwarding HTTP proxy on a real TCP port. While `drop_creates` > 0 it forwards a
    post-creating request to WordPress, lets WordPress finish it, and then closes the
    connection without answering: the client never learns the post exists."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.drop_creates = 0
        self.dropped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "content-disposition", "accept")
                }
                upstream = proxy.upstream.request(self.command, self.path, headers=headers, content=body)
                if (
                    self.command == "POST"
                    and self.path.split("?")[0].endswith(("/wp/v2/posts", "/batch/v1"))
                    and proxy.drop_creates > 0
                ):
                    proxy.drop_creates -= 1
                    proxy.dropped += 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(upstream.status_code)
                for k, v in upstream.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "content-encoding",
                        "transfer-encoding",
                        "connection",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DroppingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


def test_lost_response_after_create_does_not_duplicate(
    wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    version = new_policy(uids)
    with DroppingProxy(wordpress.url) as proxy:
        ch = CmsChannel(wordpress.settings(base_url=proxy.url), behind_proxy(wordpress))
        proxy.drop_creates = 1
        # when: WordPress creates the post but the answer is lost
        with pytest.raises(TransientError) as info:
            send(ch, version, Operation.PUBLISH, key="delivery-1")
        assert proxy.dropped == 1
        assert "connection" in info.value.message or "连接" in info.value.message
        assert rows_in_db(version.uid) == 1  # it was created all the same
        # then: the ledger's retry (same key) finds it and updates it
        receipt = send(ch, version, Operation.PUBLISH, key="delivery-1")
        ch.close()
    [post] = posts_for(admin, version.uid)
    assert rows_in_db(version.uid) == 1
    assert receipt.external_id == str(post["id"]) and receipt.data["created"] is False
    assert post["status"] == "publish"


def test_batch_writes_verifies_and_survives_a_lost_answer(
    wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    # given: three items, one of them already on the site at an older version
    versions = [new_policy(uids) for _ in range(3)]
    with DroppingProxy(wordpress.url) as proxy:
        ch = CmsChannel(wordpress.settings(base_url=proxy.url), behind_proxy(wordpress))
        first = send(ch, versions[1], Operation.PUBLISH)
        batch = [(ch.render(v, Operation.PUBLISH), f"d{n}") for n, v in enumerate(versions)]
        proxy.drop_creates = 1
        # when: WordPress writes the whole batch but the answer is lost
        lost = ch.send_many(batch)
        assert proxy.dropped == 1 and all(isinstance(o, TransientError) for o in lost)
        # then: the retry of the same batch updates the posts it made, one post per item
        out = ch.send_many(batch)
        ch.close()
    assert all(isinstance(o, Receipt) for o in out), out
    for v, receipt in zip(versions, out, strict=True):
        [post] = posts_for(admin, v.uid)
        assert rows_in_db(v.uid) == 1
        assert isinstance(receipt, Receipt) and receipt.external_id == str(post["id"])
        assert receipt.data["created"] is False  # the lost batch had made them
        assert post["status"] == "publish" and post["link"] == receipt.url
        assert httpx.get(post["link"]).status_code == 200
    assert out[1].external_id == first.external_id  # type: ignore[union-attr]


def test_batch_refuses_a_stale_version_and_reports_each_post(
    cms: CmsChannel, admin: httpx.Client, uids: list[str]
) -> None:
    newer = new_policy(uids)
    older = replace(newer, version=1, title=newer.title + "（旧）")
    newer = replace(newer, version=2)
    send(cms, newer, Operation.PUBLISH)
    fresh = new_policy(uids)
    out = cms.send_many(
        [(cms.render(older, Operation.PUBLISH), "a"), (cms.render(fresh, Operation.PUBLISH), "b")]
    )
    assert isinstance(out[0], Receipt) and out[0].data["stale"] is True and out[0].data["live_version"] == 2
    [post] = posts_for(admin, newer.uid)
    assert post["title"]["raw"] == newer.title  # not overwritten
    assert isinstance(out[1], Receipt) and out[1].data["created"] is True
    assert [p["id"] for p in posts_for(admin, fresh.uid)] == [int(out[1].external_id or 0)]


# ------------------------------------------------------------------ credentials and categories
def test_bad_credentials_are_config_errors(wordpress: WordPress, uids: list[str]) -> None:
    version = new_policy(uids)
    ch = CmsChannel(wordpress.settings(app_password=SecretStr("AAAA BBBB CCCC DDDD EEEE FFFF")), CONTEXT)
    for op in (Operation.PUBLISH, Operation.WITHDRAW):
        with pytest.raises(ChannelConfigError) as info:
            send(ch, version, op)
        assert info.value.http_status == 401
        assert info.value.provider_code in (
            "rest_forbidden_context",
            "incorrect_password",
            "rest_cannot_create",
        )
    wrong_user = CmsChannel(wordpress.settings(user="nobody"), CONTEXT)
    with pytest.raises(ChannelConfigError):
        send(wrong_user, version, Operation.PUBLISH)
    assert rows_in_db(version.uid) == 0
    ch.close()
    wrong_user.close()


def test_category_created_and_stale_id_recovered(
    wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    slug = f"test-policy-{uuid.uuid4().hex[:8]}"
    ch = CmsChannel(wordpress.settings(category_slugs={"policy": slug}), CONTEXT)
    try:
        version = new_policy(uids)
        # a category that does not exist yet is created, named after the item type
        send(ch, version, Operation.PUBLISH)
        [category] = admin.get("/categories", params={"slug": slug}).json()
        assert category["name"] == "政策文件"
        # someone deletes it in WordPress: the channel's cached id is stale, WordPress
        # would silently drop it; the update must notice and re-create the category
        admin.delete(f"/categories/{category['id']}", params={"force": "true"})
        send(ch, replace(version, version=2), Operation.UPDATE)
        [post] = posts_for(admin, version.uid)
        [recreated] = admin.get("/categories", params={"slug": slug}).json()
        assert recreated["id"] != category["id"]
        assert post["categories"] == [recreated["id"]]
        admin.delete(f"/categories/{recreated['id']}", params={"force": "true"})
    finally:
        ch.close()


# ------------------------------------------------------------------ media
def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    pixels = zlib.compress(b"\x00" + bytes([200, 30, 30]) * 2 + b"\x00" + bytes([30, 30, 200]) * 2)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def tiny_pdf(marker: str) -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n% " + marker.encode() + b"\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


@pytest.fixture
def file_server() -> Iterator[tuple[str, dict[str, int]]]:
    """A separate origin serving the item's images and attachments; counts hits and checks
    that no credentials reach it."""
    files = {
        "/figure.png": (tiny_png(), "image/png"),
        "/tool.exe": (b"MZ\x90\x00" * 64, "application/x-msdownload"),
        "/rules.pdf": (tiny_pdf(uuid.uuid4().hex), "application/pdf"),
    }
    hits: dict[str, int] = {"auth": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits[self.path] = hits.get(self.path, 0) + 1
            if self.headers.get("Authorization"):
                hits["auth"] += 1
            if self.path not in files:
                self.send_error(404)
                return
            data, ctype = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cms_files(wordpress: WordPress, file_server: tuple[str, dict[str, int]]) -> Iterator[CmsChannel]:
    """The channel with the file server (on loopback) allow-listed in `[egress]`, as an
    operator would list an intranet file host."""
    netloc = file_server[0].removeprefix("http://")
    ch = CmsChannel(
        wordpress.settings(), replace(CONTEXT, egress=EgressSettings(allow_hosts=frozenset({netloc})))
    )
    yield ch
    ch.close()


def test_images_and_attachments_go_to_the_media_library(
    cms_files: CmsChannel,
    wordpress: WordPress,
    admin: httpx.Client,
    uids: list[str],
    file_server: tuple[str, dict[str, int]],
) -> None:
    origin, hits = file_server
    version = new_policy(
        uids,
        body_html=f'<p>见下图。</p><p><img src="{origin}/figure.png" alt="预算结构图"></p>',
        attachments=({"title": "实施细则", "url": f"{origin}/rules.pdf"},),
    )
    receipt = send(cms_files, version, Operation.PUBLISH)
    assert receipt.data["media_uploaded"] == 2
    [post] = posts_for(admin, version.uid)
    content = post["content"]["raw"]
    uploads = wordpress.url + "/wp-content/uploads/"
    assert origin not in content
    assert f'src="{uploads}' in content and f'href="{uploads}' in content
    # the copies are real media items, served by WordPress
    media = admin.get("/media", params={"search": "pub-", "per_page": 100, "context": "edit"}).json()
    mine = [m for m in media if m["source_url"] in content]
    assert sorted(m["mime_type"] for m in mine) == ["application/pdf", "image/png"]
    for m in mine:
        assert httpx.get(m["source_url"]).content in (tiny_png(), httpx.get(f"{origin}/rules.pdf").content)
    assert hits["auth"] == 0
    # an update re-uses the uploaded copies instead of uploading again
    again = send(cms_files, replace(version, version=2), Operation.UPDATE)
    assert again.data["media_uploaded"] == 0
    assert posts_for(admin, version.uid)[0]["content"]["raw"] == content
    for m in mine:
        admin.delete(f"/media/{m['id']}", params={"force": "true"})


def test_refused_file_type_is_permanent(
    cms_files: CmsChannel, uids: list[str], file_server: tuple[str, dict[str, int]]
) -> None:
    # WordPress refuses the type with a 500 (rest_upload_sideload_error): retrying cannot help
    origin, _ = file_server
    version = new_policy(uids, attachments=({"title": "工具", "url": f"{origin}/tool.exe"},))
    with pytest.raises(PermanentError) as info:
        send(cms_files, version, Operation.PUBLISH)
    assert info.value.http_status == 500
    assert info.value.provider_code == "rest_upload_sideload_error"
    assert rows_in_db(version.uid) == 0


def test_uid_lookup_hides_unpublished_posts_from_anonymous_readers(
    cms: CmsChannel, wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    version = new_policy(uids)
    receipt = send(cms, version, Operation.PUBLISH)
    api = wordpress.url + "/wp-json/wp/v2/posts"
    anonymous = httpx.get(api, params={"publisher_uid": version.uid}).json()
    assert [p["id"] for p in anonymous] == [int(str(receipt.external_id))]
    send(cms, version, Operation.WITHDRAW)
    # the plugin widens the lookup to drafts and trash only for users who may edit posts
    assert httpx.get(api, params={"publisher_uid": version.uid}).json() == []
    assert [p["status"] for p in posts_for(admin, version.uid)] == ["trash"]


LIGHT = {"X-Publisher-Live-Check": "1"}


def test_light_live_check_is_wordpress_routing_without_the_theme(
    cms: CmsChannel, wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    # given: a post published through the channel (light check, the default)
    assert cms.cfg.live_check == "light"
    version = new_policy(uids, title="关于轻量上线核验的通知 <试行>")
    receipt = send(cms, version, Operation.PUBLISH)
    link = str(receipt.url)
    # then: the plugin answers the permalink itself, title only, no theme
    light = httpx.get(link, headers=LIGHT, follow_redirects=True)
    full = httpx.get(link, follow_redirects=True)
    assert light.status_code == full.status_code == 200
    assert light.headers["X-Publisher-Live-Check"] == "3"
    assert "X-Publisher-Live-Check" not in full.headers
    assert "关于轻量上线核验的通知 &lt;试行&gt;" in light.text
    assert "wp-content/themes" in full.text and "wp-content/themes" not in light.text
    assert len(light.content) < len(full.content) // 10
    # a draft and a trashed post are 404 to the light check, as to any visitor
    draft = admin.post(
        "/posts", json={"title": "草稿", "status": "draft", "meta": {"publisher_uid": new_policy(uids).uid}}
    ).json()
    preview = f"{wordpress.url}/?p={draft['id']}"
    assert httpx.get(preview, headers=LIGHT, follow_redirects=True).status_code == 404
    send(cms, version, Operation.WITHDRAW)
    gone = httpx.get(link, headers=LIGHT, follow_redirects=True)
    assert gone.status_code == 404 and version.title not in gone.text


def test_full_live_check_fetches_the_themed_page(wordpress: WordPress, uids: list[str]) -> None:
    ch = CmsChannel(wordpress.settings(live_check="full"), CONTEXT)
    try:
        receipt = send(ch, new_policy(uids), Operation.PUBLISH)
        assert receipt.url and httpx.get(str(receipt.url)).status_code == 200
    finally:
        ch.close()


def test_setup_script_is_idempotent_and_fast_when_up(wordpress: WordPress) -> None:
    before = (STATE_DIR / "wp.env").read_text()
    started = time.monotonic()
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-wordpress.sh")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 10
    assert (STATE_DIR / "wp.env").read_text() == before  # the Application Password is kept
    assert (
        httpx.get(
            wordpress.url + "/wp-json/wp/v2/users/me", auth=(wordpress.user, wordpress.app_password)
        ).status_code
        == 200
    )
