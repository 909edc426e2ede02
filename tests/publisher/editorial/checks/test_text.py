"""Normalisation with a position map: what matches, and where it is in the field."""

from __future__ import annotations

import pytest

from publisher.editorial.checks.text import BOUNDARY, fold, normalise_term, parse_html, plain


def test_fold_is_length_preserving_and_maps_full_width_and_case() -> None:
    raw = "ＡＢＣ１２３　Ｘyz\u200b机密"
    assert fold(raw) == "abc123 xyz 机密"
    assert len(fold(raw)) == len(raw)


def test_normalised_terms_drop_every_kind_of_space() -> None:
    assert normalise_term(" 扫黑\u3000除 恶\u200b") == "扫黑除恶"


@pytest.mark.parametrize(
    "source,needle,expected",
    [
        ("<p>前文扫黑<b>险</b>恶后文</p>", "扫黑险恶", "扫黑<b>险</b>恶"),
        ("<p>扫 黑&nbsp;险　恶</p>", "扫黑险恶", "扫 黑&nbsp;险　恶"),
        ("<p>a&amp;b机密</p>", "机密", "机密"),
        ("<p>Ａ Ｂ</p>", "ab", "Ａ Ｂ"),
    ],
)
def test_a_match_in_the_compact_text_maps_back_to_the_exact_source_span(
    source: str, needle: str, expected: str
) -> None:
    text = parse_html(source)
    at = text.compact.index(needle)
    start, end = text.span_of_compact(at, at + len(needle))
    assert source[start:end] == expected


def test_block_elements_separate_text_so_a_term_never_spans_two_paragraphs() -> None:
    text = parse_html("<p>扫黑</p><p>险恶</p>")
    assert "扫黑险恶" not in text.compact
    assert BOUNDARY in text.compact
    inline = parse_html("<p>扫黑<span>险恶</span></p>")
    assert "扫黑险恶" in inline.compact


def test_script_and_style_contents_are_not_text() -> None:
    text = parse_html("<p>正文</p><script>var 机密 = 1;</script><style>.x{}</style><p>尾</p>")
    assert "机密" not in text.visible and "正文" in text.visible and "尾" in text.visible


def test_elements_carry_attributes_and_positions() -> None:
    source = '<p>见<a href="http://x/a?b=1&amp;c=2">全文</a><img src=i.png alt="图 一"></p>'
    text = parse_html(source)
    a = next(e for e in text.elements if e.tag == "a" and not e.closing)
    assert a.attrs["href"] == "http://x/a?b=1&c=2"
    assert source[a.start : a.end].startswith("<a ")
    img = next(e for e in text.elements if e.tag == "img")
    assert img.attrs == {"src": "i.png", "alt": "图 一"}


def test_plain_fields_map_one_to_one() -> None:
    text = plain("标题 机密★1年")
    at = text.compact.index("机密★1年")
    assert text.span_of_compact(at, at + 5) == (3, 8)
