"""Accessibility of the body: alt text, heading order, table headers, link text, contrast."""

from __future__ import annotations

import pytest

from publisher.editorial.checks.a11y import contrast, parse_color
from publisher.editorial.checks.problem import Severity
from tests.publisher.editorial.checks.support import only, rules, run


def test_an_image_without_alt_text_blocks() -> None:
    body = '<p><img src="https://example.org/a.png"></p><p><img src="b.png" alt=" "></p>'
    problems = only(run(body=body), "a11y.img_alt")
    assert len(problems) == 2 and {p.severity for p in problems} == {Severity.BLOCK}
    assert body[problems[0].start : problems[0].end] == '<img src="https://example.org/a.png">'
    assert only(run(body='<p><img src="a.png" alt="2026年预算结构图"></p>'), "a11y.img_alt") == []


def test_heading_levels_do_not_skip() -> None:
    assert only(run(body="<h2>一</h2><h3>（一）</h3><h2>二</h2><h3>（一）</h3>"), "a11y.heading_order") == []
    [p] = only(run(body="<h2>一</h2><h4>1</h4>"), "a11y.heading_order")
    assert p.matched == "<h4>" and p.suggestion == "改为 h3"
    [q] = only(run(body="<h3>一</h3>"), "a11y.heading_order")  # the page title is the h1
    assert q.suggestion == "改为 h2"


def test_data_tables_need_header_cells() -> None:
    no_header = "<table><tr><td>项目</td><td>金额</td></tr><tr><td>甲</td><td>1</td></tr></table>"
    assert len(only(run(body=no_header), "a11y.table_header")) == 1
    with_header = no_header.replace("<td>项目</td><td>金额</td>", "<th>项目</th><th>金额</th>")
    assert only(run(body=with_header), "a11y.table_header") == []
    single_row = "<table><tr><td>甲</td><td>乙</td></tr></table>"  # a layout strip, not data
    assert only(run(body=single_row), "a11y.table_header") == []


@pytest.mark.parametrize("label", ["点击这里", "这里", "更多", "more", "Click here", "点击此处>>", ""])
def test_vague_link_text_warns(label: str) -> None:
    [p] = only(run(body=f'<p>详见<a href="https://example.org/x">{label}</a>。</p>'), "a11y.link_text")
    assert p.severity is Severity.WARN


@pytest.mark.parametrize(
    "link",
    [
        '<a href="https://example.org/x">《预算法》全文</a>',
        '<a href="https://example.org/x">点击这里查看《预算法》全文</a>',
        '<a href="https://example.org/x"><img src="i.png" alt="预算法全文"></a>',
    ],
)
def test_meaningful_link_text_passes(link: str) -> None:
    assert only(run(body=f"<p>{link}</p>"), "a11y.link_text") == []


def test_contrast_of_inline_colours() -> None:
    assert round(contrast(parse_color("#777"), parse_color("#fff")), 2) == 4.48  # type: ignore[arg-type]
    assert "a11y.contrast" in rules(run(body='<p><span style="color:#777">淡</span></p>'))
    assert "a11y.contrast" not in rules(run(body='<p><span style="color: #767676">够深</span></p>'))
    assert "a11y.contrast" not in rules(run(body='<p><span style="color:rgb(0,0,0)">黑</span></p>'))
    light_on_dark = '<p style="background-color:#003366"><span style="color:#ffffff">白字</span></p>'
    assert "a11y.contrast" not in rules(run(body=light_on_dark))
    dark_on_dark = '<p style="background:#003366"><span style="color:navy">深字</span></p>'
    assert "a11y.contrast" in rules(run(body=dark_on_dark))
    assert "a11y.contrast" in rules(run(body='<p><font color="yellow">黄</font></p>'))


@pytest.mark.parametrize(
    "body",
    [
        '<p><span style="color:gainsboro">浅灰</span></p>',  # any CSS named colour
        '<p><span style="color:hsl(0, 0%, 75%)">浅灰</span></p>',
        '<p><span style="color:rgb(190 190 190)">浅灰</span></p>',
        '<p><span style="color:rgba(0,0,0,.3)">半透明黑</span></p>',  # composed over the background
        '<p><span style="color:#0004">半透明黑</span></p>',
        '<p style="background:#333">默认颜色的文字</p>',  # the page's text colour on a dark background
        '<p style="background:url(x.png) no-repeat #333333">背景简写</p>',
        '<table><tr><td bgcolor="navy">单元格</td></tr></table>',
        '<p style="color:#767676;background:#f0f0f0">浅底灰字</p>',
    ],
)
def test_low_contrast_in_every_colour_form_warns(body: str) -> None:
    [p] = only(run(body=body), "a11y.contrast")
    assert p.severity is Severity.WARN and body[p.start : p.end].startswith("<")


@pytest.mark.parametrize(
    "body",
    [
        '<p><span style="color:hsl(210, 100%, 20%)">深蓝</span></p>',
        '<p><span style="color:rgb(0 0 0 / 90%)">近黑</span></p>',
        '<p style="background:#ffffe0">浅黄底默认文字</p>',
        '<p style="background:#003366"><span style="color:#fff">白字</span> <b style="color:#ff0">黄字</b></p>',
        '<p style="background:#003366"></p>',  # no text on it
        '<p><span style="color:var(--x)">无法判断的颜色</span></p>',
    ],
)
def test_enough_contrast_or_no_text_is_quiet(body: str) -> None:
    assert only(run(body=body), "a11y.contrast") == []
