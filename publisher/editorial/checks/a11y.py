"""Accessibility of the body (GB/T 37668, the 适老化/无障碍 requirements for government sites).

    a11y.img_alt (block)        an image without a text alternative (alt missing or empty)
    a11y.heading_order (warn)   a heading more than one level below the one before it (the
                                page's title is the h1, so the body starts at h2)
    a11y.table_header (warn)    a data table (2+ rows and 2+ columns) without header cells
    a11y.link_text (warn)       link text that says nothing alone: 点击这里, 这里, 更多, more, …
    a11y.contrast (warn)        an inline text colour below 4.5:1 against its background (an
                                inline background, else the page's, `[checks] page_background`)

That the public pages declare lang="zh-CN" is tested on the pages themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from publisher.editorial.checks.fields import Subject
from publisher.editorial.checks.problem import Problem, Severity, fingerprint
from publisher.editorial.checks.text import BOUNDARY, Element, Text

VAGUE_LINK_TEXT = frozenset(
    "点击这里 点击此处 点这里 点此 点击 这里 此处 详情 更多 查看 查看更多 了解更多 链接 下载 "
    "here clickhere click more readmore link details download".split()
)
_PUNCT = re.compile(r"[\s>»→:：。.，,!！…\[\]【】()（）<>《》\"'“”‘’]+")
_HEADING = re.compile(r"^h([1-6])$")


def _problem(
    rule: str, severity: Severity, el: Element, text: Text, message: str, suggestion: str | None = None
) -> Problem:
    return Problem(
        "body_html",
        message,
        rule=rule,
        severity=severity,
        label="正文",
        anchor="body_html",
        matched=text.source[el.start : el.end][:200],
        start=el.start,
        end=el.end,
        suggestion=suggestion,
        key=fingerprint(
            rule, "body_html", text.source[el.start : el.end], text.folded[el.text_at : el.text_at + 16]
        ),
    )


def check(subject: Subject, page_background: str = "#ffffff") -> Iterator[Problem]:
    if subject.field("body_html") is None:
        return
    text = subject.texts["body_html"]
    yield from _images(text)
    yield from _headings(text)
    yield from _tables(text)
    yield from _link_text(text)
    yield from _contrast(text, page_background)


def _images(text: Text) -> Iterator[Problem]:
    for el in text.elements:
        if el.tag == "img" and not el.closing and not el.attrs.get("alt", "").strip():
            yield _problem(
                "a11y.img_alt",
                Severity.BLOCK,
                el,
                text,
                "图片缺少替代文字（alt），读屏软件无法读出 / an image without alt text",
                "为图片填写说明其内容的替代文字",
            )


def _headings(text: Text) -> Iterator[Problem]:
    previous = 1  # the page title
    for el in text.elements:
        m = _HEADING.match(el.tag)
        if m is None or el.closing:
            continue
        level = int(m.group(1))
        if level > previous + 1:
            yield _problem(
                "a11y.heading_order",
                Severity.WARN,
                el,
                text,
                f"标题层级跳级：h{previous} 之后直接是 h{level} / heading level skipped",
                f"改为 h{previous + 1}",
            )
        previous = level


def _tables(text: Text) -> Iterator[Problem]:
    stack: list[tuple[Element, list[int], bool]] = []  # (table, cells per row, has header)
    for el in text.elements:
        if el.tag == "table":
            if not el.closing:
                stack.append((el, [], False))
            elif stack:
                table, rows, header = stack.pop()
                if not header and len(rows) >= 2 and max(rows, default=0) >= 2:
                    yield _problem(
                        "a11y.table_header",
                        Severity.WARN,
                        table,
                        text,
                        "数据表格没有表头单元格（th），读屏软件无法对应行列 / a data table without header cells",
                        "把首行（或首列）单元格改为表头 th",
                    )
        elif stack and not el.closing:
            table, rows, header = stack[-1]
            if el.tag == "tr":
                rows.append(0)
            elif el.tag in ("td", "th"):
                if not rows:
                    rows.append(0)
                rows[-1] += 1
                if el.tag == "th":
                    stack[-1] = (table, rows, True)


def _link_text(text: Text) -> Iterator[Problem]:
    opened: tuple[Element, list[str]] | None = None
    for el in text.elements:
        if el.tag == "a" and not el.closing:
            opened = (el, [])
        elif el.tag == "img" and opened is not None:
            opened[1].append(el.attrs.get("alt", ""))
        elif el.tag == "a" and el.closing and opened is not None:
            start, alts = opened
            opened = None
            label = text.visible[start.text_at : el.text_at].replace(BOUNDARY, " ") + " ".join(alts)
            bare = _PUNCT.sub("", label).lower()
            if not bare or bare in VAGUE_LINK_TEXT:
                shown = label.strip() or "（无文字）"
                yield _problem(
                    "a11y.link_text",
                    Severity.WARN,
                    start,
                    text,
                    f"链接文字“{shown}”不能说明去向 / link text that says nothing alone",
                    "用目标的名称作链接文字，如“《……》全文”",
                )


_COLOR = re.compile(r"(?:^|;)\s*color\s*:\s*([^;]+)", re.I)
_BACKGROUND = re.compile(r"(?:^|;)\s*background(?:-color)?\s*:\s*([^;]+)", re.I)
_NAMED = {
    "black": "000000",
    "white": "ffffff",
    "red": "ff0000",
    "green": "008000",
    "blue": "0000ff",
    "yellow": "ffff00",
    "gray": "808080",
    "grey": "808080",
    "silver": "c0c0c0",
    "orange": "ffa500",
    "lightgray": "d3d3d3",
    "lightgrey": "d3d3d3",
    "darkgray": "a9a9a9",
    "navy": "000080",
    "maroon": "800000",
    "purple": "800080",
    "teal": "008080",
    "aqua": "00ffff",
    "cyan": "00ffff",
    "lime": "00ff00",
    "pink": "ffc0cb",
}


def parse_color(value: str) -> tuple[float, float, float] | None:
    v = value.strip().lower().split("!")[0].strip()
    v = _NAMED.get(v, v)
    m = re.fullmatch(r"#?([0-9a-f]{3}|[0-9a-f]{6})", v)
    if m:
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255
    m = re.fullmatch(r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)", v)
    if m:
        r, g, b = (min(255, int(x)) / 255 for x in m.groups())
        return r, g, b
    return None


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_VOID = frozenset({"br", "hr", "img", "col", "input", "meta", "link", "wbr", "source"})


def _contrast(text: Text, page_background: str) -> Iterator[Problem]:
    page = parse_color(page_background) or (1.0, 1.0, 1.0)
    backgrounds: list[tuple[str, tuple[float, float, float] | None]] = []  # open elements' backgrounds
    for el in text.elements:
        if el.tag in _VOID:
            continue
        if el.closing:
            for i in range(len(backgrounds) - 1, -1, -1):
                if backgrounds[i][0] == el.tag:
                    del backgrounds[i:]
                    break
            continue
        style = el.attrs.get("style", "")
        bg_match = _BACKGROUND.search(style)
        own_bg = parse_color(bg_match.group(1)) if bg_match else None
        backgrounds.append((el.tag, own_bg))
        fg_raw = _COLOR.search(style)
        fg = parse_color(fg_raw.group(1)) if fg_raw else None
        if fg is None and el.tag == "font":
            fg = parse_color(el.attrs.get("color", ""))
        if fg is None:
            continue
        bg = next((b for _, b in reversed(backgrounds) if b is not None), page)
        ratio = contrast(fg, bg)
        if ratio < 4.5:
            yield _problem(
                "a11y.contrast",
                Severity.WARN,
                el,
                text,
                f"文字颜色与背景对比度 {ratio:.1f}:1，低于 4.5:1，老年人和弱视读者难以看清 / contrast below 4.5:1",
                "使用更深的文字颜色（或去掉颜色）",
            )
