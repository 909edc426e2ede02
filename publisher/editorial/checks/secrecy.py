"""Secrecy markings (密级标志): an item bearing one is never published.

Read in every text field: title, body, description, keywords, 文号, attachments' titles and
file names, the structured data. Matched in the compact text (full-width folded, spaces
ignored). What fires, and what deliberately does not:

    secrecy.mark (block)
      机密★1年, 秘密★6个月, 绝密★长期, 秘密☆, 机密*           a level with ★/☆/* (any period)
      机密1年, 秘密 10 年                                     a level followed by a period
      【机密】, [秘密], （绝密）, 〔机密〕                    a level alone in brackets
      a paragraph, cell, heading or field that is only 秘密/机密/绝密(级)
      密级：机密, 密级 秘密                                   a labelled level
    secrecy.phrase (block)
      内部资料, 内部文件, 内部材料, 内部参考, 内部使用, 内部传阅, 注意保密, 不得外传, 严禁外传, 请勿外传

    not fired: 商业秘密, 国家秘密, 工作秘密, 秘密地, 机密性, 保密审查, 保密工作, 非涉密,
    内部控制, 内部审计 — the level words inside ordinary prose.

A phrase inside an ops-maintained allowed phrase (the wording dictionary's `allow` kind) is
not reported; the level marks always are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from publisher.editorial.checks.fields import Subject
from publisher.editorial.checks.problem import Problem, Severity, fingerprint
from publisher.editorial.checks.text import BOUNDARY
from publisher.editorial.checks.wording import Dictionary

_LEVEL = "(?:绝密|机密|秘密)"
_PERIOD = r"(?:\d{1,3}(?:年|个月|月|天|日)|长期|\d{4}年\d{1,2}月\d{1,2}日(?:前)?)"
_B = re.escape(BOUNDARY)
# Each pattern starts with a literal or a character class, so the regex engine scans for its
# first character in C (a pattern opening with a lookbehind or an alternation of classes
# would be tried at every position of a 20,000-character body).
_MARKS = (
    re.compile(rf"{_LEVEL}(?:[★☆*✩✭]{_PERIOD}?|{_PERIOD})"),  # with a star and/or a period
    re.compile(rf"[【\[(（〔{{<]{_LEVEL}级?[】\])）〕}}>]"),  # alone in brackets
    re.compile(rf"密级[:：]?{_LEVEL}"),  # labelled
)
_ALONE = re.compile(rf"{_LEVEL}级?(?=$|{_B})")  # the whole paragraph, cell or field
PHRASES: tuple[str, ...] = (
    "内部资料",
    "内部文件",
    "内部材料",
    "内部参考",
    "内部使用",
    "内部传阅",
    "注意保密",
)
PHRASES += ("不得外传", "严禁外传", "请勿外传")
_PHRASE = re.compile("|".join(PHRASES))


def _marks(compact: str) -> list[re.Match[str]]:
    if "密" not in compact:
        return []
    found = [m for pattern in _MARKS for m in pattern.finditer(compact)]
    found += [m for m in _ALONE.finditer(compact) if m.start() == 0 or compact[m.start() - 1] == BOUNDARY]
    out: list[re.Match[str]] = []
    for m in sorted(found, key=lambda m: (m.start(), -m.end())):
        if not out or m.start() >= out[-1].end():
            out.append(m)
    return out


def check(subject: Subject, dictionary: Dictionary | None = None) -> Iterator[Problem]:
    for f in subject.fields:
        text = subject.texts[f.path]
        compact = text.compact
        if not compact:
            continue
        found: list[tuple[str, re.Match[str]]] = [("secrecy.mark", m) for m in _marks(compact)]
        phrases = list(_PHRASE.finditer(compact))
        if phrases:
            allowed = dictionary.allowed(compact) if dictionary is not None else []
            found += [
                ("secrecy.phrase", m)
                for m in phrases
                if not any(a <= m.start() and m.end() <= b for a, b in allowed)
            ]
        for rule, m in found:
            vstart, vend = text.visible_of_compact(m.start(), m.end())
            start, end = text.span_of_visible(vstart, vend)
            matched = text.shown(vstart, vend)
            if rule == "secrecy.mark":
                message = f"含密级标志“{matched}”：涉密信息不得公开发布 / a classification marking"
            else:
                message = f"含“{matched}”字样：内部或须保密的材料不得公开发布 / an internal-only marking"
            yield Problem(
                f.path,
                message,
                rule=rule,
                severity=Severity.BLOCK,
                label=f.label,
                anchor=f.anchor,
                matched=matched,
                start=start,
                end=end,
                suggestion="删除该材料或标志；确属可公开的，须先依程序解密 / remove it; declassify first",
                key=fingerprint(rule, f.path, m.group(), text.context(m.start(), m.end())),
            )
