"""The egress guard in every adapter that fetches a URL from content or from a provider,
attacked through the adapters' real send paths over real HTTP: the local WeChat stand-in
and the real local WordPress (tests/wordpress_support.py). A body naming a loopback, private
or redirecting-to-loopback URL fails that delivery with a classified error naming the URL;
the target is never contacted; nothing is published; the channel is never paused
(ChannelConfigError is the only error that pauses, and none of these is one)."""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from channels.base import ChannelConfigError, ChannelContext, Operation, PermanentError
from channels.cms import CmsChannel
from channels.egress import EgressRefusedError, EgressSettings
from tests.channels.wechat_support import *  # noqa: F403  (fixtures: wechat, image_host, make_channel, redis_prefix)
from tests.channels.wechat_support import ChannelFactory, ImageHost
from tests.factories import make_version
from tests.security.origin import Origin, serve
from tests.wordpress_support import *  # noqa: F403  (fixtures: wordpress, admin, uids)
from tests.wordpress_support import WordPress, posts_for


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def internal() -> Iterator[Origin]:
    """An "internal" service on loopback holding something worth stealing, not allow-listed."""
    with serve({"/secret.png": (200, {"Content-Type": "image/png"}, png())}) as origin:
        yield origin


PRIVATE = "http://10.20.30.40/x.png"  # refused on its address alone: nothing is contacted


def assert_refused(exc: BaseException, url: str) -> None:
    assert isinstance(exc, EgressRefusedError) and isinstance(exc, PermanentError)
    assert not isinstance(exc, ChannelConfigError)  # never pauses the channel
    assert url in str(exc)


# ---------------------------------------------------------------- WeChat


def wechat_send(channel: Any, body_html: str, **over: Any) -> Any:
    version = make_version(body_html=body_html, **over)
    return channel.send(channel.render(version, Operation.PUBLISH), key=f"k-{uuid.uuid4().hex}")


@pytest.mark.parametrize("where", ["loopback", "private"])
def test_wechat_image_on_an_internal_address_fails_that_delivery(
    make_channel: ChannelFactory, image_host: ImageHost, internal: Origin, where: str
) -> None:
    url = internal.url("/secret.png") if where == "loopback" else PRIVATE
    # the operator listed the host as an image host, but not in [egress] allow_hosts
    channel = make_channel(allowed_image_hosts=[image_host.netloc, internal.netloc, "10.20.30.40"])
    with pytest.raises(PermanentError) as info:
        wechat_send(channel, f'<p>图</p><img src="{url}" alt="图">')
    assert_refused(info.value, url)
    assert internal.hits == []


def test_wechat_image_redirecting_to_loopback_is_refused(
    make_channel: ChannelFactory, image_host: ImageHost, internal: Origin
) -> None:
    image_host.routes["/img/bounce.png"] = (302, {"Location": internal.url("/secret.png")}, b"")
    channel = make_channel()
    url = image_host.url("/img/bounce.png")
    with pytest.raises(PermanentError) as info:
        wechat_send(channel, f'<img src="{url}" alt="图">')
    assert_refused(info.value, url)
    assert image_host.hits == ["/img/bounce.png"] and internal.hits == []


def test_wechat_cover_on_a_private_address_is_refused(
    make_channel: ChannelFactory, image_host: ImageHost
) -> None:
    channel = make_channel(allowed_image_hosts=[image_host.netloc, "10.20.30.40"])
    with pytest.raises(PermanentError) as info:
        wechat_send(channel, "<p>正文</p>", cover_url=PRIVATE)
    assert_refused(info.value, PRIVATE)


@pytest.mark.parametrize("status", [401, 403])
def test_wechat_image_host_refusing_us_is_the_items_problem(
    make_channel: ChannelFactory, image_host: ImageHost, status: int
) -> None:
    # issue 18: an image host answering 401/403 once paused the whole channel as
    # "credentials rejected"; only WeChat's own API rejecting our credentials may do that
    image_host.routes["/img/private.png"] = (status, {"Content-Type": "text/plain"}, b"denied")
    channel = make_channel()
    url = image_host.url("/img/private.png")
    with pytest.raises(PermanentError) as info:
        wechat_send(channel, f'<img src="{url}" alt="图">')
    assert not isinstance(info.value, ChannelConfigError)
    assert info.value.http_status == status and url in str(info.value)


@pytest.mark.parametrize(
    "img",
    [
        '<img src="" alt="空">',
        "<img alt='无地址'>",
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="内嵌">',
        '<img src="#top" alt="锚点">',
        '<img src="?x=1" alt="查询">',
    ],
)
def test_wechat_image_without_a_source_is_never_the_items_page(
    make_channel: ChannelFactory, image_host: ImageHost, img: str
) -> None:
    # the item's own page is on the (allowed) image host: resolving an empty src against it
    # would fetch the page as an image
    page = image_host.url("/items/01page")
    channel = make_channel()
    version = make_version(body_html=f"<p>正文</p>{img}", public_url=page)
    payload = channel.render(version, Operation.PUBLISH)
    assert payload.body["images"] == [] and len(payload.body["dropped_images"]) == 1
    assert page not in payload.body["dropped_images"][0]
    assert [p.field for p in channel.check(version)] == ["body_html"]  # reported to the approver
    channel.send(payload, key=f"k-{uuid.uuid4().hex}")
    assert not any(hit.startswith("/items/") for hit in image_host.hits)


# ---------------------------------------------------------------- CMS (the real WordPress)

CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000", data_dir=Path("/nonexistent"), agency_name="x"
)


def cms_channel(wordpress: WordPress, *allow: str) -> CmsChannel:
    return CmsChannel(
        wordpress.settings(),
        dataclasses.replace(CONTEXT, egress=EgressSettings(allow_hosts=frozenset(allow))),
    )


def cms_send(channel: CmsChannel, uids: list[str], **over: Any) -> str:
    uid = f"01egress{uuid.uuid4().hex[:18]}"
    uids.append(uid)
    version = make_version(uid=uid, title=f"关于外部地址的通知 {uid[-6:]}", **over)
    channel.send(channel.render(version, Operation.PUBLISH), key=f"k-{uid}")
    return uid


@pytest.mark.wordpress
@pytest.mark.parametrize("where", ["image on loopback", "attachment on a private address"])
def test_cms_media_on_an_internal_address_fails_that_delivery(
    wordpress: WordPress, admin: httpx.Client, uids: list[str], internal: Origin, where: str
) -> None:
    channel = cms_channel(wordpress)
    url = internal.url("/secret.png") if where.startswith("image") else PRIVATE
    over: dict[str, Any] = (
        {"body_html": f'<p>见图</p><img src="{url}" alt="图">'}
        if where.startswith("image")
        else {"attachments": ({"title": "附件", "url": url},)}
    )
    try:
        with pytest.raises(PermanentError) as info:
            cms_send(channel, uids, **over)
    finally:
        channel.close()
    assert_refused(info.value, url)
    assert internal.hits == []
    assert posts_for(admin, uids[-1]) == []  # nothing re-published


@pytest.mark.wordpress
def test_cms_media_redirecting_to_loopback_is_refused(
    wordpress: WordPress, admin: httpx.Client, uids: list[str], internal: Origin
) -> None:
    # an allow-listed file host (the operator's intranet files) that bounces to another
    # internal service: the hop is checked again and refused
    with serve({"/figure.png": (302, {"Location": internal.url("/secret.png")}, b"")}) as files:
        channel = cms_channel(wordpress, files.netloc)
        url = files.url("/figure.png")
        try:
            with pytest.raises(PermanentError) as info:
                cms_send(channel, uids, body_html=f'<img src="{url}" alt="图">')
        finally:
            channel.close()
        assert files.hits == ["/figure.png"]
    assert_refused(info.value, url)
    assert internal.hits == [] and "重定向" in str(info.value)
    assert posts_for(admin, uids[-1]) == []


@pytest.mark.wordpress
def test_cms_allow_listed_file_host_is_fetched(
    wordpress: WordPress, admin: httpx.Client, uids: list[str], internal: Origin
) -> None:
    # the same internal origin, allow-listed by the operator: fetched and re-hosted
    channel = cms_channel(wordpress, internal.netloc)
    try:
        uid = cms_send(channel, uids, body_html=f'<img src="{internal.url("/secret.png")}" alt="图">')
    finally:
        channel.close()
    assert internal.hits == ["/secret.png"]
    [post] = posts_for(admin, uid)
    assert internal.netloc not in post["content"]["raw"]
    for m in admin.get("/media", params={"search": "pub-", "per_page": 100, "context": "edit"}).json():
        if m["source_url"] in post["content"]["raw"]:
            admin.delete(f"/media/{m['id']}", params={"force": "true"})


# ---------------------------------------------------------------- shown before approval


def test_wechat_preflight_names_an_image_the_guard_will_refuse(
    make_channel: ChannelFactory, image_host: ImageHost
) -> None:
    channel = make_channel(allowed_image_hosts=[image_host.netloc, "10.20.30.40", "127.0.0.2"])
    version = make_version(
        body_html=f'<img src="{PRIVATE}" alt="a"><img src="{image_host.url("/img/chart.png")}" alt="b">',
        cover_url="http://127.0.0.2/c.jpg",
    )
    problems: dict[str, str] = {}
    for p in channel.check(version):
        problems[p.field] = problems.get(p.field, "") + p.message
    assert PRIVATE in problems["body_html"] and "10.20.30.40" in problems["body_html"]
    assert "127.0.0.2" in problems["cover_url"]
    # the allow-listed image host is not a problem
    assert image_host.url("/img/chart.png") not in " ".join(problems.values())


def test_cms_preflight_names_media_the_guard_will_refuse() -> None:
    from channels.cms import CmsSettings

    settings = CmsSettings(enabled=True, base_url="http://127.0.0.1:8080")
    channel = CmsChannel(
        settings,
        dataclasses.replace(CONTEXT, egress=EgressSettings(allow_hosts=frozenset({"files.intranet"}))),
    )
    version = make_version(
        body_html='<p>正文</p><img src="http://localhost:6379/x.png"><img src="http://127.0.0.1:8080/wp-content/a.png">'
        '<img src="http://files.intranet/ok.png">',
        attachments=(
            {"title": "附件", "url": "http://[::ffff:10.0.0.1]/a.pdf"},
            # a malformed IDNA label: named like any invalid URL, never an exception
            {"title": "附件二", "url": "http://xn--/b.pdf"},
        ),
    )
    problems = [(p.field, p.message) for p in channel.check(version)]
    assert [f for f, _ in problems] == ["body_html", "attachments", "attachments"]
    assert "localhost:6379" in problems[0][1] and "::ffff:10.0.0.1" in problems[1][1]
    assert "http://xn--/b.pdf" in problems[2][1] and "invalid URL" in problems[2][1]


def test_the_approver_is_told_before_approving(make_runtime: Any, team: Any) -> None:
    # through the API: the CMS pre-flight names the attachment the guard would refuse, the
    # approval is refused with it (422), and nothing is queued for any channel
    from fastapi.testclient import TestClient

    from publisher.web import create_app
    from tests.samples import policy

    rt = make_runtime(channels={"rss": {"enabled": True}, "cms": {"enabled": True}}, checks={"links": False})
    item = rt.service.create_item(
        team.editor,
        policy(attachments=[{"title": "实施细则", "url": "http://10.20.30.40/rules.pdf"}]),
    )
    rt.service.submit(team.editor, item.uid)
    rt.service.review(team.reviewer, item.uid)
    with TestClient(create_app(rt), headers={"Authorization": f"Bearer {team.tokens['approver']}"}) as client:
        r = client.post(f"/api/items/{item.uid}/approve")
    assert r.status_code == 422, r.text
    problems = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "http://10.20.30.40/rules.pdf" in problems["channels.cms.attachments"]
    assert rt.service.deliveries(item.uid) == []
