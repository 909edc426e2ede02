"""A field's text as the rules read it, with a map back to positions in the field.

    field as stored ──parse──▶ visible text ──fold──▶ folded ──drop spaces──▶ compact
    "扫黑 <b>险</b>恶"           "扫黑 险恶"          (same length)            "扫黑险恶"

- **visible**: tags removed, entities decoded, a block boundary (`BOUNDARY`) where a block
  element starts or ends, so a term never matches across two paragraphs or cells. Script and
  style contents are not text.
- **folded**: full-width ASCII forms (`ＡＢＣ１２３`) and the ideographic space become their
  ASCII forms, Latin letters lower case, zero-width characters and no-break spaces become
  spaces. One character in, one out, so positions do not move.
- **compact**: whitespace removed, so "扫 黑 险 恶" matches 扫黑险恶.

Every stage keeps runs that map its indexes to the stage before, so a match found in the
compact text reports its start and end in the field exactly as the editor wrote it.
The HTML tokeniser is a small regex scanner: it also collects the elements (tag, attributes,
position) the link and accessibility rules read, so the body is parsed once.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

BOUNDARY = "\ue000"  # a private-use character: never in a term, never whitespace

# Elements whose start or end separates text (a term never spans them).
BLOCK_TAGS = frozenset(
    "p br hr h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table thead tbody tfoot tr th td caption "
    "div blockquote pre figure figcaption section article header footer nav aside title".split()
)
_RAW_TEXT = frozenset({"script", "style", "template", "textarea"})

_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(?P<close>/?)(?P<tag>[A-Za-z][A-Za-z0-9]*)(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>"
    r"|<[!?/][^>]*>"
    r"|&(?P<entity>#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});",
    re.S,
)
_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _fold_table() -> list[str]:
    # A list indexed by code point: str.translate looks a list up in C, several times faster
    # than a dict. Characters past the BMP raise IndexError and are left as they are.
    table = [chr(cp) for cp in range(0x10000)]
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = chr(cp - 0xFEE0)
    for cp in range(0xFF21, 0xFF3B):  # Ａ-Ｚ → a-z
        table[cp] = chr(cp - 0xFEE0 + 32)
    for cp in range(0x41, 0x5B):  # A-Z → a-z
        table[cp] = chr(cp + 32)
    for cp in (0x3000, 0x00A0, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x202F, 0x205F):
        table[cp] = " "
    return table


FOLD = _fold_table()


def fold(text: str) -> str:
    """Full-width → half-width, lower case, invisible spaces → spaces; length-preserving."""
    return text.translate(FOLD)


_SPACE = re.compile(r"\s+")


def normalise_term(term: str) -> str:
    """The form a dictionary term is stored and matched in: folded, without whitespace."""
    return _SPACE.sub("", fold(term))


@dataclass(frozen=True)
class Element:
    """A start tag in an HTML field: `start`/`end` are its offsets in the field; `text_at` is
    the visible-text index where it stands."""

    tag: str
    attrs: dict[str, str]
    start: int
    end: int
    text_at: int
    closing: bool = False


class _Runs:
    """Maps indexes of a derived string to the string it came from: runs of consecutive
    characters, each run starting at `starts[i]` here and `origins[i]` there. A run with a
    `width` of 0 advances one-for-one; otherwise it is one character that stood for `width`
    characters there (an entity, a block boundary standing for a tag)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.origins: list[int] = []
        self.widths: list[int] = []

    def add(self, start: int, origin: int, width: int = 0) -> None:
        self.starts.append(start)
        self.origins.append(origin)
        self.widths.append(width)

    def start_of(self, i: int) -> int:
        r = bisect_right(self.starts, i) - 1
        if r < 0:
            return 0
        return self.origins[r] + (i - self.starts[r] if self.widths[r] == 0 else 0)

    def end_of(self, i: int) -> int:
        """Where the character at `i` ends there (exclusive)."""
        r = bisect_right(self.starts, i) - 1
        if r < 0:
            return 0
        if self.widths[r] == 0:
            return self.origins[r] + (i - self.starts[r]) + 1
        return self.origins[r] + self.widths[r]


@dataclass
class Text:
    """One field's text under check (see the module docstring)."""

    source: str
    visible: str
    _runs: _Runs
    elements: list[Element] = field(default_factory=list)

    @cached_property
    def folded(self) -> str:
        return fold(self.visible)

    @cached_property
    def _compact(self) -> tuple[str, _Runs]:
        runs = _Runs()
        parts: list[str] = []
        at = 0
        for m in re.finditer(r"\S+", self.folded):
            runs.add(at, m.start())
            parts.append(m.group())
            at += m.end() - m.start()
        return "".join(parts), runs

    @property
    def compact(self) -> str:
        return self._compact[0]

    def span_of_visible(self, start: int, end: int) -> tuple[int, int]:
        """Field offsets of visible[start:end] (end exclusive, end > start)."""
        return self._runs.start_of(start), self._runs.end_of(end - 1)

    def visible_of_compact(self, start: int, end: int) -> tuple[int, int]:
        runs = self._compact[1]
        return runs.start_of(start), runs.start_of(end - 1) + 1

    def span_of_compact(self, start: int, end: int) -> tuple[int, int]:
        return self.span_of_visible(*self.visible_of_compact(start, end))

    def shown(self, vstart: int, vend: int) -> str:
        """visible[vstart:vend] as a person reads it (block boundaries as spaces)."""
        return self.visible[vstart:vend].replace(BOUNDARY, " ").strip()

    def context(self, start: int, end: int, width: int = 8) -> str:
        """The compact text around compact[start:end]: a fingerprint of where a problem is."""
        c = self.compact
        before = c[max(0, start - width) : start].rsplit(BOUNDARY, 1)[-1]
        after = c[end : end + width].split(BOUNDARY, 1)[0]
        return before + "|" + after  # within the paragraph: an edit elsewhere keeps it


def plain(value: str) -> Text:
    runs = _Runs()
    runs.add(0, 0)
    return Text(value, value, runs)


_MARKUP = re.compile(r"[<&]")  # a one-character class: the regex engine scans for it in C


def parse_html(source: str) -> Text:
    """Visible text of an HTML field, its position map, and its elements."""
    runs = _Runs()
    # the run lists and appends bound once: this loop runs for every tag of a long body
    starts, origins, widths = runs.starts, runs.origins, runs.widths
    parts: list[str] = []
    elements: list[Element] = []
    at = 0  # length of the visible text so far
    pos = 0  # where the text not yet taken starts
    search, match = _MARKUP.search, _TOKEN.match
    hit = search(source)
    while hit is not None:
        here = hit.start()
        m = match(source, here)
        if m is None:  # a bare "<" or "&" in text
            hit = search(source, here + 1)
            continue
        if here > pos:
            starts.append(at)
            origins.append(pos)
            widths.append(0)
            parts.append(source[pos:here])
            at += here - pos
        pos = m.end()
        close, tag, attrs, entity = m.group("close", "tag", "attrs", "entity")
        if entity is not None:
            starts.append(at)
            origins.append(here)
            widths.append(pos - here)
            parts.append(html.unescape(m.group())[:1])
            at += 1
        elif tag is not None:
            name = tag.lower()
            if name in BLOCK_TAGS:
                starts.append(at)
                origins.append(here)
                widths.append(pos - here)
                parts.append(BOUNDARY)
                at += 1
            attributes = _attrs(attrs) if not close and attrs.strip(" /") else {}
            elements.append(Element(name, attributes, here, pos, at, bool(close)))
            if not close and name in _RAW_TEXT:  # script, style: skip to the end tag
                end = re.compile(rf"</{name}\s*>", re.I).search(source, pos)
                pos = end.end() if end is not None else len(source)
        hit = search(source, pos)
    if pos < len(source):
        runs.add(at, pos)
        parts.append(source[pos:])
    return Text(source, "".join(parts), runs, elements)


def _attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        name = m.group(1).lower()
        value = next((g for g in m.groups()[1:] if g is not None), "")
        out.setdefault(name, html.unescape(value))
    return out
