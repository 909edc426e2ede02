"""Personal data (个人信息) that must not be published.

    personal.id_card    resident ID number (GB 11643): 18 characters, an area code, a real birth
                        date and a valid check character (ISO 7064 MOD 11-2)
    personal.mobile     mainland mobile number: 11 digits from 13x-19x, optionally +86 and
                        spaces or hyphens in the 3-4-4 groups
    personal.bank_card  bank card number: 16-19 digits (groups of four allowed) of a card
                        scheme's prefix (62 UnionPay, 4, 51-55, 2221-2720, 35) with a valid Luhn digit

All block. An item type may declare a field where a kind of data belongs
(`publisher.domain.item.PUBLIC_CONTACT_FIELDS`, e.g. a procurement result's supplier contact
may hold a mobile number): that kind is then allowed in that field only, never elsewhere.
Landline numbers (an office's 咨询电话) are public contact data and are not reported. The
matched text is shown masked, so a problem list never spreads the number further.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from publisher.domain.item import PUBLIC_CONTACT_FIELDS
from publisher.editorial.checks.fields import Subject
from publisher.editorial.checks.problem import Problem, Severity, fingerprint

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10x98765432"

# not part of a longer number, code or decimal: no letter or digit around, no ".5" after
_BEFORE, _AFTER = r"(?<![0-9a-z.])", r"(?![0-9a-z]|\.\d)"
_ID = re.compile(_BEFORE + r"[1-8]\d{5}[ -]?(?:18|19|20)\d{6}[ -]?\d{3}[0-9x]" + _AFTER, re.A)
_MOBILE = re.compile(r"(?<![0-9a-z.+])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}" + _AFTER, re.A)
_CARD = re.compile(_BEFORE + r"(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{1,3})?" + _AFTER, re.A)
_SEPARATORS = re.compile(r"[ -]")


def id_card_valid(number: str, today: date | None = None) -> bool:
    """An 18-character resident ID: digits, a real birth date not in the future, the check character."""
    n = number.lower()
    if len(n) != 18 or not n[:17].isdigit() or n[17] not in _CHECK:
        return False
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or date.today()):
        return False
    total = sum(int(c) * w for c, w in zip(n[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == n[17]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_scheme(digits: str) -> bool:
    if digits.startswith(("62", "4", "35")):
        return True
    two, four = int(digits[:2]), int(digits[:4])
    return 51 <= two <= 55 or 2221 <= four <= 2720


def card_valid(number: str) -> bool:
    digits = _SEPARATORS.sub("", number)
    return 16 <= len(digits) <= 19 and _card_scheme(digits) and luhn_valid(digits)


def mask(text: str) -> str:
    digits = re.sub(r"[^0-9a-z]", "", text.lower())
    if len(digits) == 13 and digits.startswith("86"):  # a mobile with its country code
        digits = digits[2:]
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


KINDS = {
    "id_card": ("公民身份号码", "a resident ID number"),
    "mobile": ("手机号码", "a mobile number"),
    "bank_card": ("银行卡号", "a bank card number"),
}


# Where a number of 11+ digits (spaces and hyphens allowed) stands: the detailed patterns run
# only there (a class-prefixed pattern is scanned for in C; the detailed ones are not).
_RUN = re.compile(r"\d[\d -]{9,}\d(?:[ -]?[\dx])?", re.A)


def _found(folded: str, today: date) -> Iterator[tuple[str, int, int]]:
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return not any(s < b and a < e for a, b in taken)

    for run in _RUN.finditer(folded):
        # lookbehinds see before `pos`; `endpos` two past the run leaves the lookaheads their characters
        a, b = max(0, run.start() - 4), min(len(folded), run.end() + 2)
        for m in _ID.finditer(folded, a, b):
            if free(*m.span()) and id_card_valid(_SEPARATORS.sub("", m.group()), today):
                taken.append(m.span())
                yield "id_card", m.start(), m.end()
        for m in _CARD.finditer(folded, a, b):
            if free(*m.span()) and card_valid(m.group()):
                taken.append(m.span())
                yield "bank_card", m.start(), m.end()
        for m in _MOBILE.finditer(folded, a, b):
            if free(*m.span()):
                taken.append(m.span())
                yield "mobile", m.start(), m.end()


def check(subject: Subject, today: date) -> Iterator[Problem]:
    allowed = PUBLIC_CONTACT_FIELDS.get(subject.type, {}) if subject.type else {}
    for f in subject.fields:
        text = subject.texts[f.path]
        folded = text.folded
        if not any(c.isdigit() for c in folded):
            continue
        for kind, a, b in _found(folded, today):
            if kind in allowed.get(f.path, ()):
                continue
            start, end = text.span_of_visible(a, b)
            zh, en = KINDS[kind]
            rule = f"personal.{kind}"
            where = [p for p, kinds in allowed.items() if kind in kinds]
            hint = f"；该类信息只可填在“{'、'.join(_labels(where))}”" if where else ""
            yield Problem(
                f.path,
                f"含{zh}（{mask(folded[a:b])}）：个人信息不得公开{hint} / {en} must not be published",
                rule=rule,
                severity=Severity.BLOCK,
                label=f.label,
                anchor=f.anchor,
                matched=mask(folded[a:b]),
                start=start,
                end=end,
                suggestion="删除或隐去该号码 / remove or mask it",
                key=fingerprint(rule, f.path, folded[a:b]),
            )


def _labels(paths: list[str]) -> list[str]:
    from publisher.editorial.checks.fields import label_of

    return [label_of(p) for p in paths]
