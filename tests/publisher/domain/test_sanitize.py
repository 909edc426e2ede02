"""The allow-lists of publisher/domain/sanitize.py, each setting on its own: input
(`clean_html`), output (`clean_output`) and plain text (`text_of`). nh3's own defaults allow
more than ours (abbr, tel:, ftp:, hreflang…), so each case is one that a default would let
through; the hostile-HTML properties in tests/system/test_properties.py and
tests/security/test_output_html.py cover the rest."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from publisher.domain.sanitize import clean_html, clean_output, text_of

Clean = Callable[[str], str]
BOTH = pytest.mark.parametrize("clean", [clean_html, clean_output], ids=["input", "output"])


@BOTH
def test_listed_tags_and_attributes_stay(clean: Clean) -> None:
    body = (
        '<h2>标题</h2><p><strong>粗</strong><em>斜</em></p><ol start="3"><li>一</li></ol>'
        '<table><tr><th scope="col" colspan="2">表头</th></tr><tr><td rowspan="2" align="center">格</td></tr></table>'
        '<img src="https://x.example/a.png" alt="图" title="t" width="10" height="20">'
    )
    out = clean(body)
    for kept in (
        "<h2>标题</h2>",
        "<strong>粗</strong>",
        "<em>斜</em>",
        '<ol start="3">',
        'scope="col"',
        'colspan="2"',
        'rowspan="2"',
        'align="center"',
        'src="https://x.example/a.png"',
        'alt="图"',
        'width="10"',
        'height="20"',
    ):
        assert kept in out, (kept, out)


@BOTH
def test_tags_and_attributes_off_the_list_go_even_where_nh3_allows_them(clean: Clean) -> None:
    out = clean(
        '<p><abbr title="缩写">缩</abbr><kbd>键</kbd><a href="https://x.example/" hreflang="en">链</a></p>'
    )
    assert "<abbr" not in out and "<kbd" not in out and "hreflang" not in out
    assert "缩" in out and "键" in out  # the text of a stripped tag stays


@BOTH
def test_the_content_of_scripts_and_embedded_objects_goes_with_them(clean: Clean) -> None:
    out = clean(
        "<p>正文<script>alert(1)</script><style>p{}</style><noscript>无脚本</noscript>"
        "<iframe>框</iframe><object>对象</object><template>模板</template></p>"
    )
    assert out == "<p>正文</p>"


@BOTH
def test_only_http_https_and_mailto_urls(clean: Clean) -> None:
    out = clean(
        '<a href="https://x.example/">s</a><a href="http://x.example/">h</a><a href="mailto:a@x.example">m</a>'
        '<a href="ftp://x.example/f">f</a><a href="tel:12345">t</a><a href="javascript:alert(1)">j</a>'
        '<img src="data:image/png;base64,AAAA">'
    )
    assert 'href="https://x.example/"' in out
    assert 'href="http://x.example/"' in out
    assert 'href="mailto:a@x.example"' in out
    for gone in ("ftp:", "tel:", "javascript", "data:"):
        assert gone not in out, (gone, out)


@BOTH
def test_comments_are_stripped(clean: Clean) -> None:
    assert clean("<p>a<!-- 内部备注 -->b</p>") == "<p>ab</p>"


def test_input_links_get_noopener_noreferrer() -> None:
    assert clean_html('<a href="https://x.example/" rel="me">链</a>') == (
        '<a href="https://x.example/" rel="noopener noreferrer">链</a>'
    )


def test_input_drops_class_and_style() -> None:
    assert clean_html('<p class="c" style="color:red">a</p>') == "<p>a</p>"


def test_output_keeps_a_channels_rel_class_and_section_and_adds_no_rel() -> None:
    assert clean_output('<a href="https://x.example/">链</a>') == '<a href="https://x.example/">链</a>'
    assert clean_output('<a href="https://x.example/" rel="nofollow">链</a>') == (
        '<a href="https://x.example/" rel="nofollow">链</a>'
    )
    assert clean_output('<section class="c"><p>a</p></section>') == '<section class="c"><p>a</p></section>'


def test_output_styles_keep_only_the_listed_properties() -> None:
    out = clean_output(
        '<p style="color:red;position:fixed;background-image:url(https://x.example/t.png);font-size:14px">a</p>'
    )
    assert "color:red" in out.replace(" ", "") and "font-size:14px" in out.replace(" ", "")
    assert "position" not in out and "url(" not in out and "background-image" not in out


def test_text_of_is_the_visible_text_unescaped_and_trimmed() -> None:
    assert text_of("  <p>甲 &amp; 乙</p><p>&lt;丙&gt;</p>\n") == "甲 & 乙<丙>"


def test_text_of_drops_script_and_style_with_their_content() -> None:
    assert text_of("<p>正文</p><script>alert(1)</script><style>p{color:red}</style>") == "正文"
