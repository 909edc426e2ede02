"""Names and titles register: people's names with the titles they held and when.

"Pairs" is defined narrowly, so ordinary text never fires: a registered title stands
*immediately* before the name ("副局长张三") or immediately after it ("张三副局长"), in the
compact text (spaces ignored, nothing else in between). Where several registered titles end
there ("局长" and "副局长"), the longest counts. Titles are the register's own and a list of
common ones (`COMMON_TITLES`). Two rules:

- `register.title` (block): a registered name paired with a title the person did not hold on
  the item's issue date (印发日期; today for a draft without one). The suggestion is the
  title(s) they did hold then.
- `register.name` (block): next to a registered title, a name of a registered name's length
  that differs from it in exactly one character and is not itself registered ("局长张山"
  where 张三 is registered).

A title marked as former (原/前/时任/曾任 before it) is right for anyone who held it before the
issue date. A name without an adjacent title is never judged: the register cannot know whether another
person of a similar name is meant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import ahocorasick

from publisher.editorial.checks.fields import Subject, TextField
from publisher.editorial.checks.problem import Problem, Severity, fingerprint
from publisher.editorial.checks.text import Text, normalise_term


@dataclass(frozen=True)
class Held:
    """One title a person held: from `valid_from` to `valid_to` inclusive (open-ended if None)."""

    name: str
    title: str
    valid_from: date
    valid_to: date | None = None
    note: str | None = None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def period(self) -> str:
        return f"{self.valid_from.isoformat()} 至 {self.valid_to.isoformat() if self.valid_to else '今'}"


def _automaton(words: Iterable[str]) -> ahocorasick.Automaton | None:
    a = ahocorasick.Automaton()
    n = 0
    for w in set(words):
        a.add_word(w, len(w))
        n += 1
    if not n:
        return None
    a.make_automaton()
    return a


class Register:
    def __init__(self, entries: Iterable[Held], version: int = 0) -> None:
        self.version = version
        self.entries = [
            Held(normalise_term(e.name), normalise_term(e.title), e.valid_from, e.valid_to, e.note)
            for e in entries
        ]
        self.by_name: dict[str, list[Held]] = defaultdict(list)
        for e in self.entries:
            if e.name and e.title:
                self.by_name[e.name].append(e)
        self.titles = {e.title for e in self.entries if e.title} | (COMMON_TITLES if self.by_name else set())
        self.name_lengths = sorted({len(n) for n in self.by_name}, reverse=True)
        # one character replaced by "?" → the registered names it could be a typo of
        self.near: dict[str, set[str]] = defaultdict(set)
        for name in self.by_name:
            for i in range(len(name)):
                self.near[name[:i] + "?" + name[i + 1 :]].add(name)
        self._titles = _automaton(self.titles)

    def __len__(self) -> int:
        return len(self.entries)

    def titles_in(self, compact: str) -> tuple[dict[int, str], dict[int, str]]:
        """Longest registered title ending at each offset, and starting at each offset."""
        ending: dict[int, str] = {}
        starting: dict[int, str] = {}
        if self._titles is None:
            return ending, starting
        for end, length in self._titles.iter(compact):
            start = end + 1 - length
            title = compact[start : end + 1]
            if len(title) > len(ending.get(end + 1, "")):
                ending[end + 1] = title
            if len(title) > len(starting.get(start, "")):
                starting[start] = title
        return ending, starting

    def near_names(self, candidate: str) -> set[str]:
        if candidate in self.by_name:
            return set()
        out: set[str] = set()
        for i in range(len(candidate)):
            out |= self.near.get(candidate[:i] + "?" + candidate[i + 1 :], set())
        return out


FORMER = ("原", "前", "时任", "曾任")
# Titles recognised next to a registered name besides the register's own, so "局长王明" is
# judged when the register only knows 王明 as 副局长.
COMMON_TITLES = frozenset(
    """局长 副局长 处长 副处长 科长 副科长 主任 副主任 书记 副书记 党组书记 党组副书记 党委书记 党委副书记
    市长 副市长 区长 副区长 县长 副县长 省长 副省长 部长 副部长 厅长 副厅长 司长 副司长 主席 副主席
    秘书长 副秘书长 总理 副总理 巡视员 副巡视员 一级巡视员 二级巡视员 总经济师 总会计师 总工程师
    主任委员 副主任委员 局党组书记 局党组成员 党组成员""".split()
)


@dataclass(frozen=True)
class _Pair:
    name_start: int
    name_end: int
    title: str
    start: int  # the pair's span: title and name
    end: int
    anchor: tuple[bool, int]  # (title before the name?, where the title ends or starts)


def _name_like(text: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" or c == "·" for c in text)


def _pairs(text: Text, register: Register) -> Iterator[tuple[_Pair, str]]:
    """(pair, the text where a name stands) for every title with a name-sized neighbour."""
    compact = text.compact
    ending, starting = register.titles_in(compact)
    for end, title in ending.items():  # title, then name
        for n in register.name_lengths:
            candidate = compact[end : end + n]
            if len(candidate) == n and _name_like(candidate):
                yield _Pair(end, end + n, title, end - len(title), end + n, (True, end)), candidate
    for start, title in starting.items():  # name, then title
        for n in register.name_lengths:
            candidate = compact[start - n : start]
            if start - n >= 0 and _name_like(candidate):
                yield _Pair(start - n, start, title, start - n, start + len(title), (False, start)), candidate


def check(subject: Subject, register: Register, today: date) -> Iterator[Problem]:
    if not register.by_name:
        return
    day = subject.issue_date or today
    for f in subject.fields:
        if not f.prose:
            continue
        text = subject.texts[f.path]
        pairs = list(_pairs(text, register))
        # where a registered name stands next to a title, other window sizes there are not names
        named = {p.anchor for p, candidate in pairs if candidate in register.by_name}
        seen: set[tuple[int, int]] = set()
        for pair, candidate in pairs:
            span = (pair.start, pair.end)
            if span in seen:
                continue
            held = register.by_name.get(candidate)
            if held is None:
                names = set() if pair.anchor in named else register.near_names(candidate)
                if names:
                    seen.add(span)
                    right = "、".join(sorted(names))
                    yield _problem(
                        text,
                        f,
                        pair,
                        "register.name",
                        f"“{candidate}”与登记的姓名“{right}”仅一字之差，请核对 / a name one character "
                        "off a registered name",
                        sorted(names)[0],
                        name_only=True,
                    )
                continue
            seen.add(span)
            if any(h.title == pair.title and h.covers(day) for h in held):
                continue
            if pair.anchor[0] and text.compact[: pair.start].endswith(FORMER):
                # "原局长张三": a title held before the issue date is right when marked former
                if any(h.title == pair.title and h.valid_from <= day for h in held):
                    continue
            then = sorted({h.title for h in held if h.covers(day)})
            was = [h for h in held if h.title == pair.title]
            detail = (
                f"；其任“{pair.title}”的时间为 " + "、".join(h.period for h in was)
                if was
                else f"；登记的职务中没有“{pair.title}”"
            )
            yield _problem(
                text,
                f,
                pair,
                "register.title",
                f"{day.isoformat()}（印发日期）{candidate}不任“{pair.title}”{detail}"
                + (f"，时任{'、'.join(then)}" if then else "")
                + " / title not held on the issue date",
                f"{'、'.join(then)}{candidate}" if then else None,
            )


def _problem(
    text: Text,
    f: TextField,
    pair: _Pair,
    rule: str,
    message: str,
    suggestion: str | None,
    *,
    name_only: bool = False,
) -> Problem:
    a, b = (pair.name_start, pair.name_end) if name_only else (pair.start, pair.end)
    vstart, vend = text.visible_of_compact(a, b)
    start, end = text.span_of_visible(vstart, vend)
    return Problem(
        f.path,
        message,
        rule=rule,
        severity=Severity.BLOCK,
        label=f.label,
        anchor=f.anchor,
        matched=text.shown(vstart, vend),
        start=start,
        end=end,
        suggestion=suggestion,
        key=fingerprint(rule, f.path, text.compact[a:b], text.context(a, b)),
    )
