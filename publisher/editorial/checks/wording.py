"""Wording (错敏词/错别字): dictionary terms found with one Aho-Corasick automaton.

Kinds of entry:

    wrong      a known wrong form and its right one      扫黑险恶 → 扫黑除恶     block
    normative  a non-normative expression (规范表述)       台湾总统 → 台湾地区领导人 warn
    forbidden  words that must never appear               lorem ipsum             block
    allow      a phrase that contains a term but is right (白名单): matches inside it are dropped

Each entry may carry its own severity (the kind's default otherwise). The starter dictionary
is `publisher/data/checks/wording.tsv`; ops add, remove or switch off entries in the database
(`publisher.editorial.checks.store`), and the effective dictionary is the starter's entries
with those changes applied.

Speed: pyahocorasick looks a character's transition up by scanning the node's children, so a
root with thousands of first characters (any real Chinese dictionary) costs a scan of
thousands per character. The automaton is therefore built over UTF-8 bytes (as Latin-1
characters): a CJK character is three bytes, the lead byte one of a few dozen values and the
others one of 64, so no node has more than a few dozen children. UTF-8 is self-synchronising,
so a match can only start on a character boundary.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import ahocorasick

from publisher.editorial.checks.fields import Subject
from publisher.editorial.checks.problem import Problem, Severity, fingerprint
from publisher.editorial.checks.text import normalise_term

STARTER = Path(__file__).resolve().parents[2] / "data" / "checks" / "wording.tsv"
MAX_PER_FIELD = 50


class Kind(StrEnum):
    WRONG = "wrong"
    NORMATIVE = "normative"
    FORBIDDEN = "forbidden"
    ALLOW = "allow"
    OFF = "off"  # (database only) switches a starter entry off


DEFAULT_SEVERITY = {
    Kind.WRONG: Severity.BLOCK,
    Kind.NORMATIVE: Severity.WARN,
    Kind.FORBIDDEN: Severity.BLOCK,
    Kind.ALLOW: Severity.WARN,
}
KIND_LABELS = {
    Kind.WRONG: "错误表述",
    Kind.NORMATIVE: "不规范表述",
    Kind.FORBIDDEN: "禁用词",
    Kind.ALLOW: "允许（白名单）",
    Kind.OFF: "停用的内置词条",
}


@dataclass(frozen=True)
class Term:
    term: str
    kind: Kind
    suggestion: str | None = None
    severity: Severity | None = None
    note: str | None = None
    source: str = "starter"

    @property
    def key(self) -> str:
        return normalise_term(self.term)

    @property
    def effective_severity(self) -> Severity:
        return self.severity or DEFAULT_SEVERITY.get(self.kind, Severity.BLOCK)


class DictionaryError(ValueError):
    pass


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value.strip())
    except ValueError:
        raise DictionaryError(
            f"词条类型应为 wrong、normative、forbidden 或 allow / unknown kind {value!r}"
        ) from None


def read_tsv(path: Path, source: str = "starter") -> list[Term]:
    """Entries of a dictionary file: `kind<TAB>term<TAB>suggestion<TAB>severity<TAB>note`;
    blank lines and lines starting with # are skipped."""
    out: list[Term] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DictionaryError(
            f"{path.name}: 不是 UTF-8 文本 / not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if "\x00" in text:
        raise DictionaryError(f"{path.name}: 含有 NUL 字符 / contains a NUL character")
    for n, row in enumerate(
        csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE), start=1
    ):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row] + [""] * 5
        kind, term, suggestion, severity, note = cells[:5]
        try:
            parsed = parse_kind(kind)
            level = Severity(severity) if severity else None
        except ValueError as exc:
            raise DictionaryError(f"{path.name}:{n}: {exc}") from None
        if not normalise_term(term):
            raise DictionaryError(f"{path.name}:{n}: empty term")
        out.append(Term(term, parsed, suggestion or None, level, note or None, source))
    return out


@dataclass(frozen=True)
class Hit:
    start: int  # compact-text offsets
    end: int
    term: Term


def _utf8(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


class Dictionary:
    """The effective entries, compiled. Build once per dictionary version (a 50,000-entry
    build takes about half a second); `find` is what runs on every check."""

    def __init__(self, terms: Iterable[Term], version: int = 0) -> None:
        self.version = version
        entries: dict[str, Term] = {}
        for t in terms:
            key = t.key
            if not key:
                continue
            if t.kind is Kind.OFF:
                entries.pop(key, None)
            else:
                entries[key] = t  # later entries (ops additions) win over the starter's
        self.terms = entries
        self._automaton = ahocorasick.Automaton()
        for key, t in entries.items():
            encoded = _utf8(key)
            self._automaton.add_word(encoded, (len(encoded), t))
        self._empty = not entries
        self._has_allow = any(t.kind is Kind.ALLOW for t in entries.values())
        if not self._empty:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.terms)

    def _spans(self, compact: str) -> list[tuple[int, int, Term]]:
        """Every entry found in `compact`, as compact-text offsets."""
        if self._empty or not compact:
            return []
        raw = compact.encode("utf-8")
        found = sorted(
            ((end + 1 - length, term) for end, (length, term) in self._automaton.iter(raw.decode("latin-1"))),
            key=lambda found: found[0],
        )
        out: list[tuple[int, int, Term]] = []
        char_at = byte_at = 0
        for start, term in found:  # byte offsets → character offsets, walking the text once
            char_at += len(raw[byte_at:start].decode("utf-8"))
            byte_at = start
            out.append((char_at, char_at + len(term.key), term))
        return out

    def allowed(self, compact: str) -> list[tuple[int, int]]:
        """Spans of allowed phrases (白名单) in `compact`."""
        if not self._has_allow:
            return []
        return [(s, e) for s, e, t in self._spans(compact) if t.kind is Kind.ALLOW]

    def find(self, compact: str) -> list[Hit]:
        """Every entry in `compact` (compact-text offsets), allow-list applied: a term inside an
        allowed phrase is dropped, and of overlapping terms the longest is kept."""
        spans = self._spans(compact)
        allowed = [(s, e) for s, e, t in spans if t.kind is Kind.ALLOW]
        hits = [
            Hit(s, e, t)
            for s, e, t in spans
            if t.kind is not Kind.ALLOW and not any(a <= s and e <= b for a, b in allowed)
        ]
        return _longest(hits)


def _longest(hits: list[Hit]) -> list[Hit]:
    """Of overlapping hits keep the longest (the earliest when equal)."""
    out: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if out and h.start < out[-1].end:
            if h.end - h.start > out[-1].end - out[-1].start:
                out[-1] = h
            continue
        out.append(h)
    return out


def _message(term: Term, matched: str) -> str:
    if term.kind is Kind.WRONG:
        fix = f"，应为“{term.suggestion}”" if term.suggestion else ""
        return f"“{matched}”为错误表述{fix} / wrong wording" + (
            f": use {term.suggestion}" if term.suggestion else ""
        )
    if term.kind is Kind.NORMATIVE:
        fix = f"，规范表述为“{term.suggestion}”" if term.suggestion else ""
        return f"“{matched}”不是规范表述{fix} / non-normative wording"
    return f"不得使用“{matched}” / a word that must never appear"


RULES = {
    Kind.WRONG: "wording.wrong",
    Kind.NORMATIVE: "wording.normative",
    Kind.FORBIDDEN: "wording.forbidden",
}


def check(subject: Subject, dictionary: Dictionary) -> Iterator[Problem]:
    for f in subject.fields:
        if not f.prose:
            continue
        text = subject.texts[f.path]
        for hit in dictionary.find(text.compact)[:MAX_PER_FIELD]:
            vstart, vend = text.visible_of_compact(hit.start, hit.end)
            start, end = text.span_of_visible(vstart, vend)
            matched = text.shown(vstart, vend)
            rule = RULES[hit.term.kind]
            note = f"（{hit.term.note}）" if hit.term.note else ""
            yield Problem(
                f.path,
                _message(hit.term, matched) + note,
                rule=rule,
                severity=hit.term.effective_severity,
                label=f.label,
                anchor=f.anchor,
                matched=matched,
                start=start,
                end=end,
                suggestion=hit.term.suggestion,
                key=fingerprint(rule, f.path, hit.term.key, text.context(hit.start, hit.end)),
            )
