"""WeChat-safe HTML, the pre-flight check, and image fetching without SSRF."""

from __future__ import annotations

import io
from typing import Any

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from channels.base import PermanentError
from channels.egress import EgressGuard, EgressSettings
from channels.wechat.html import host_allowed, rewrite_images, to_wechat_html
from channels.wechat.media import THUMB_MAX, UPLOADIMG_MAX, fetch_image, for_uploadimg, generate_cover
from publisher.domain.item import Operation
from tests.factories import make_version

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import ChannelFactory, ImageHost

ALLOWED = ["img.example.gov.cn", "127.0.0.1:9999"]


def transform(html: str) -> BeautifulSoup:
    out = to_wechat_html(html, base_url="http://site.local/items/1", allowed_hosts=ALLOWED)
    return BeautifulSoup(out.content, "html.parser")


def test_dangerous_and_interactive_markup_is_removed() -> None:
    soup = transform(
        '<p onclick="x()">文</p><script>alert(1)</script><iframe src="http://x"></iframe>'
        '<form action="/x"><input name="a"><button>提交</button></form><style>p{}</style>'
        '<object data="x"></object><custom-tag>保留文字</custom-tag>'
    )
    assert not soup.find_all(["script", "iframe", "form", "input", "button", "style", "object", "custom-tag"])
    assert "onclick" not in str(soup) and "保留文字" in soup.get_text() and "提交" not in soup.get_text()


def test_headings_and_tables_are_styled_for_a_phone() -> None:
    soup = transform(
        "<h1>总则</h1><h3>细则</h3><div><table><tr><th>项目</th><td colspan='2'>1</td></tr></table></div>"
    )
    assert all("font-size" in str(h["style"]) for h in soup.find_all(["h1", "h3"]))
    table = soup.find("table")
    assert table is not None and table.parent is not None and table.parent.name == "section"
    assert "overflow-x:auto" in str(table.parent["style"])
    td = soup.find("td")
    assert td is not None and td["colspan"] == "2" and "border" in str(td["style"])
    assert not soup.find_all("div")


def test_external_links_become_text_with_their_url() -> None:
    soup = transform(
        '<p>见<a href="https://www.gov.cn/a.htm">国务院文件</a>，'
        '<a href="https://www.gov.cn/b.htm">https://www.gov.cn/b.htm</a>，'
        '<a href="/items/2">相关解读</a>，<a href="mailto:gk@czj.sh.gov.cn">邮箱</a>，'
        '<a href="https://mp.weixin.qq.com/s/abc">往期文章</a></p>'
    )
    text = soup.get_text()
    assert "国务院文件（https://www.gov.cn/a.htm）" in text
    assert text.count("https://www.gov.cn/b.htm") == 1
    assert "相关解读（http://site.local/items/2）" in text and "邮箱（gk@czj.sh.gov.cn）" in text
    assert [a["href"] for a in soup.find_all("a")] == ["https://mp.weixin.qq.com/s/abc"]


def test_images_only_from_allowed_hosts() -> None:
    out = to_wechat_html(
        '<img src="http://img.example.gov.cn/a.png"><img src="http://evil.example/b.png" alt="图表">'
        '<img src="http://169.254.169.254/latest"><img src="http://user@img.example.gov.cn/c.png">',
        base_url="http://site.local/",
        allowed_hosts=ALLOWED,
    )
    assert out.images == ("http://img.example.gov.cn/a.png",)
    assert len(out.dropped_images) == 3 and "［图片：图表］" in out.content
    hosted = rewrite_images(out.content, {"http://img.example.gov.cn/a.png": "http://wx.local/mmbiz_png/1/0"})
    assert "http://wx.local/mmbiz_png/1/0" in hosted and "img.example.gov.cn" not in hosted


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://img.example.gov.cn/x.png", True),
        ("https://127.0.0.1:9999/x.png", True),
        ("http://127.0.0.1:8888/x.png", False),
        ("ftp://img.example.gov.cn/x.png", False),
        ("http://img.example.gov.cn@evil.example/x.png", False),
        ("file:///etc/passwd", False),
    ],
)
def test_host_allow_list(url: str, allowed: bool) -> None:
    assert host_allowed(url, ALLOWED) is allowed


def test_check_reports_what_wechat_would_reject(make_channel: ChannelFactory) -> None:
    channel = make_channel()
    long_title = "关" * 33
    problems = channel.check(
        make_version(
            title=long_title,
            description="摘" * 129,
            body_html="<p>" + "字" * 20_000 + '</p><img src="http://evil.example/x.png">',
            cover_url="http://evil.example/cover.jpg",
        )
    )
    fields = sorted(p.field for p in problems)
    assert fields == ["body_html", "body_html", "cover_url", "description", "short_title"]
    assert all(" / " in p.message for p in problems)
    assert channel.check(make_version(title=long_title, short_title="短标题")) == []
    assert [p.field for p in channel.check(make_version(title=long_title, short_title="短" * 33))] == [
        "short_title"
    ]


def test_render_is_pure_and_uses_cms_url_as_source(make_channel: ChannelFactory) -> None:
    channel = make_channel()
    version = make_version(channel_urls={"cms": "http://cms.local/?p=9"})
    first, second = channel.render(version, Operation.PUBLISH), channel.render(version, Operation.PUBLISH)
    assert first == second
    assert first.body["article"]["content_source_url"] == "http://cms.local/?p=9"
    assert channel.render(make_version(), Operation.PUBLISH).body["article"]["content_source_url"] == (
        make_version().public_url
    )
    abolished = channel.render(make_version(validity="已废止"), Operation.UPDATE).body["article"]
    assert abolished["title"].startswith("【已废止】") and "废止" in abolished["content"]


def image_guard(*hosts: str, **settings: Any) -> EgressGuard:
    """The egress guard with the test image host (on loopback) allow-listed."""
    return EgressGuard(EgressSettings(allow_hosts=frozenset(hosts), **settings))


def test_image_fetch_refuses_ssrf_and_non_images(image_host: ImageHost) -> None:
    client = image_guard(image_host.netloc)
    allowed = [image_host.netloc]
    try:
        assert fetch_image(client, image_host.url("/img/chart.png"), allowed_hosts=allowed, max_bytes=10**6)
        for path, match in [
            ("/img/moved.png", "重定向"),
            ("/img/fake.jpg", "格式"),
            ("/img/page", "内容类型不符"),
            ("/img/missing.png", "404"),
        ]:
            with pytest.raises(PermanentError, match=match):
                fetch_image(client, image_host.url(path), allowed_hosts=allowed, max_bytes=10**6)
        with pytest.raises(PermanentError, match="过大"):
            fetch_image(client, image_host.url("/img/huge.png"), allowed_hosts=allowed, max_bytes=100_000)
        with pytest.raises(PermanentError, match="允许"):
            fetch_image(
                client, "http://169.254.169.254/latest/meta-data/", allowed_hosts=allowed, max_bytes=10**6
            )
        # the redirect target was never requested
        assert not any("meta-data" in hit for hit in image_host.hits)
    finally:
        client.close()


def test_images_are_normalised_to_uploadimg_limits(image_host: ImageHost) -> None:
    client = image_guard(image_host.netloc)
    try:
        gif = fetch_image(
            client, image_host.url("/img/anim.gif"), allowed_hosts=[image_host.netloc], max_bytes=10**7
        )
        huge = fetch_image(
            client, image_host.url("/img/huge.png"), allowed_hosts=[image_host.netloc], max_bytes=10**7
        )
    finally:
        client.close()
    data, filename, ctype = for_uploadimg(gif)
    assert (filename, ctype) == ("image.jpg", "image/jpeg") and data.startswith(b"\xff\xd8\xff")
    data, _, _ = for_uploadimg(huge)
    assert len(data) <= UPLOADIMG_MAX
    with pytest.raises(PermanentError):
        for_uploadimg(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def test_generated_cover_fits_the_thumb_limit() -> None:
    cover = generate_cover("policy", "AB1900010-2019-146  2019-04-04", "uid:1")
    assert len(cover) <= THUMB_MAX
    assert Image.open(io.BytesIO(cover)).size == (900, 383)
    assert cover != generate_cover("policy", "AB1900010-2019-146  2019-04-04", "uid:2")


def test_transport_failure_fetching_an_image_is_transient() -> None:
    from channels.base import TransientError

    client = image_guard("127.0.0.1:9", connect_timeout=1.0)
    try:
        with pytest.raises(TransientError):
            fetch_image(client, "http://127.0.0.1:9/x.png", allowed_hosts=["127.0.0.1:9"], max_bytes=10**6)
    finally:
        client.close()
