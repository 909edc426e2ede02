"""The URL rule for the links editors type into an item's fields (attachments, cover)."""

from __future__ import annotations

import pytest

from publisher.domain.urls import web_url

GOOD = [
    "http://a.example/x.pdf",
    "https://example.gov.cn/files/%E6%9C%BA.pdf?x=1#p2",
    "http://[::ffff:10.0.0.1]/a.pdf",  # fetchable or not is the egress guard's call
    "http://127.0.0.1:8000/items/01j",
    "https://xn--fiqs8s.example/a.pdf",  # 中国, encoded
    "https://财政.example/a.pdf",
    "http://a.example:65535/",
]

BAD = [
    ("http://[::1/a.pdf", "无法解析"),
    ("http://a.example:abc/", "无法解析"),
    ("http://a.example:65536/", "无法解析"),
    ("http:///a.pdf", "缺少主机名"),
    ("ftp://a.example/a.pdf", "http"),
    ("http://user:pw@a.example/a.pdf", "用户名或密码"),
    ("http://a b.example/", "空白"),
    ("http://a.example/a b.pdf", "空白"),
    ("http://a.example/\x7f", "非法字符"),
    ("http://a.example/\\..\\x", "非法字符"),
    ('http://a.example/"onmouseover=x', "非法字符"),
    ("http://xn--/a.pdf", "主机名无效"),
    ("http://xn--zz.example/a.pdf", "主机名无效"),
    ("http://a..example/", "主机名无效"),
]


@pytest.mark.parametrize("url", GOOD)
def test_a_well_formed_url_is_kept_as_typed(url: str) -> None:
    assert web_url(url) == url


@pytest.mark.parametrize("url,words", BAD)
def test_a_url_no_channel_could_use_is_refused_saying_why(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as exc:
        web_url(url)
    assert " / " in str(exc.value)  # bilingual, as every field error
