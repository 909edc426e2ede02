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
# The CSS named colours (CSS Color Module Level 4), as hex.
_NAMED = dict(
    pair.split(":")
    for pair in """aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff
    beige:f5f5dc bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2
    brown:a52a2a burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50
    cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b darkcyan:008b8b
    darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 darkkhaki:bdb76b
    darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc darkred:8b0000
    darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f
    darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff
    dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0
    forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700
    goldenrod:daa520 gray:808080 green:008000 greenyellow:adff2f grey:808080 honeydew:f0fff0
    hotpink:ff69b4 indianred:cd5c5c indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa
    lavenderblush:fff0f5 lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080
    lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90 lightgrey:d3d3d3
    lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa lightskyblue:87cefa
    lightslategray:778899 lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0 lime:00ff00
    limegreen:32cd32 linen:faf0e6 magenta:ff00ff maroon:800000 mediumaquamarine:66cdaa
    mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db mediumseagreen:3cb371
    mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585
    midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 navajowhite:ffdead
    navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23 orange:ffa500 orangered:ff4500
    orchid:da70d6 palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093
    papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6
    purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f royalblue:4169e1
    saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee
    sienna:a0522d silver:c0c0c0 skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090
    snow:fffafa springgreen:00ff7f steelblue:4682b4 tan:d2b48c teal:008080 thistle:d8bfd8
    tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 white:ffffff whitesmoke:f5f5f5
    yellow:ffff00 yellowgreen:9acd32""".split()
)
# The public pages' text colour (publisher/static/public.css, body): what text without an
# inline colour is drawn in, judged against an inline background.
PAGE_TEXT = "#222222"

RGB = tuple[float, float, float]
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(%?)")
_FUNCTION = re.compile(r"(rgba?|hsla?)\((.*)\)")


def _channel(value: str, percent: str, scale: float) -> float:
    number = float(value)
    return max(0.0, min(1.0, number / 100 if percent else number / scale))


def _hsl(h: float, s: float, light: float) -> RGB:
    def f(n: int) -> float:
        k = (n + h / 30) % 12
        a = s * min(light, 1 - light)
        return light - a * max(-1.0, min(k - 3, 9 - k, 1.0))

    return f(0), f(8), f(4)


def parse_rgba(value: str) -> tuple[RGB, float] | None:
    """A CSS colour and its alpha: #rgb, #rgba, #rrggbb, #rrggbbaa, a named colour,
    rgb()/rgba() (commas or spaces, numbers or percentages, "/ alpha"), hsl()/hsla();
    None for anything else (transparent, currentColor, a variable, a gradient)."""
    v = value.strip().lower().split("!")[0].strip()
    v = _NAMED.get(v, v)
    m = re.fullmatch(r"#?([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})", v)
    if m:
        h = m.group(1)
        if len(h) <= 4:
            h = "".join(c * 2 for c in h)
        alpha = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255), alpha
    m = _FUNCTION.fullmatch(v)
    if m is None:
        return None
    kind, args = m.group(1), m.group(2).replace("/", ",")
    parts = [p for p in re.split(r"[,\s]+", args.strip()) if p]
    if len(parts) not in (3, 4):
        return None
    parsed = []
    for part in parts:
        n = _NUMBER.fullmatch(part.removesuffix("deg"))
        if n is None:
            return None
        parsed.append(n.groups())
    alpha = _channel(parsed[3][0], parsed[3][1], 1.0) if len(parsed) == 4 else 1.0
    if kind.startswith("rgb"):
        r, g, b = (_channel(x, pct, 255) for x, pct in parsed[:3])
        return (r, g, b), alpha
    hue = float(parsed[0][0])
    sat, light = (_channel(x, "%", 100) for x, _ in parsed[1:3])
    return _hsl(hue % 360, sat, light), alpha


def parse_color(value: str) -> RGB | None:
    """An opaque CSS colour (a translucent one is judged over white)."""
    found = parse_rgba(value)
    return None if found is None else _over(found, (1.0, 1.0, 1.0))


def _over(colour: tuple[RGB, float], below: RGB) -> RGB:
    """A translucent colour as it shows over `below`."""
    (r, g, b), a = colour
    return r * a + below[0] * (1 - a), g * a + below[1] * (1 - a), b * a + below[2] * (1 - a)


def _background(value: str) -> tuple[RGB, float] | None:
    """The colour of a `background` shorthand (url(...) no-repeat #003366) or background-color."""
    whole = parse_rgba(value)
    if whole is not None:
        return whole
    for token in re.findall(r"[a-z]+\([^)]*\)|[^\s()]+", value.lower()):
        found = parse_rgba(token)
        if found is not None:
            return found
    return None


def luminance(rgb: RGB) -> float:
    """WCAG 2 relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_VOID = frozenset({"br", "hr", "img", "col", "input", "meta", "link", "wbr", "source"})


def _contrast(text: Text, page_background: str) -> Iterator[Problem]:
    """Every run of text drawn in an inline colour or on an inline background: the text colour
    it ends up with (its element's, else inherited, else the page's) against the background it
    ends up on (its element's, else an ancestor's, else the page's), translucent colours
    composed over what is below. Reported once, on the element that set the colour or the
    background; a background whose text is all re-coloured is not judged with the page's text."""
    page = parse_color(page_background) or (1.0, 1.0, 1.0)
    base = parse_color(PAGE_TEXT) or (0.0, 0.0, 0.0)
    # open elements: (tag, text colour, background, the element that set either) inside each
    stack: list[tuple[str, RGB, RGB, Element | None]] = []
    reported: set[int] = set()
    at = 0  # visible text judged so far

    def judge(until: int) -> Iterator[Problem]:
        if not stack or stack[-1][3] is None or stack[-1][3].start in reported:
            return  # no inline colour here, or reported already
        _, fg, bg, source = stack[-1]
        if source is None or not text.visible[at:until].replace(BOUNDARY, "").strip():
            return
        ratio = contrast(fg, bg)
        if ratio < 4.5:
            reported.add(source.start)
            own_colour = bool(_COLOR.search(source.attrs.get("style", ""))) or source.tag == "font"
            yield _problem(
                "a11y.contrast",
                Severity.WARN,
                source,
                text,
                f"文字颜色与背景对比度 {ratio:.1f}:1，低于 4.5:1，老年人和弱视读者难以看清 / contrast below 4.5:1",
                "使用更深的文字颜色（或去掉颜色）" if own_colour else "去掉背景色或改用更浅的背景",
            )

    for el in text.elements:
        yield from judge(el.text_at)
        at = el.text_at
        if el.tag in _VOID:
            continue
        if el.closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == el.tag:
                    del stack[i:]
                    break
            continue
        fg_in, bg_in, source = (stack[-1][1], stack[-1][2], stack[-1][3]) if stack else (base, page, None)
        style = el.attrs.get("style", "")
        bg_match = _BACKGROUND.search(style)
        own_bg = _background(bg_match.group(1)) if bg_match else None
        if own_bg is None and el.attrs.get("bgcolor"):
            own_bg = parse_rgba(el.attrs["bgcolor"])
        bg = _over(own_bg, bg_in) if own_bg is not None else bg_in
        fg_match = _COLOR.search(style)
        own_fg = parse_rgba(fg_match.group(1)) if fg_match else None
        if own_fg is None and el.tag == "font" and el.attrs.get("color"):
            own_fg = parse_rgba(el.attrs["color"])
        fg = _over(own_fg, bg) if own_fg is not None else fg_in
        stack.append((el.tag, fg, bg, el if own_fg is not None or own_bg is not None else source))
    yield from judge(len(text.visible))
