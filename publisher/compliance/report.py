"""The annual disclosure report (政府信息公开工作年度报告) in the State Council's template:
一、总体情况; 二、主动公开政府信息情况 (its tables); 三、收到和处理政府信息公开申请情况;
四、政府信息公开行政复议、行政诉讼情况; 五、存在的主要问题及改进情况; 六、其他需要报告的事项.

What the service holds fills the report (normative documents made, abolished and in force;
applications received, answered by outcome, carried over); what it cannot know (rules of
government, administrative decisions, fee income, reviews and lawsuits, the narrative) is
entered by staff per year (`AnnualReportInput`) and shown as 未填报 until then. Internal
delivery counts never appear in it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.domain.errors import FieldError, ValidationError
from publisher.domain.item import Validity
from publisher.store import counters
from publisher.store.models import AnnualReportInput, Application

# Numbers staff enter: key -> label (the template's row or column).
NUMBERS: dict[str, str] = {
    "rules.made": "规章 · 本年制发件数",
    "rules.abolished": "规章 · 本年废止件数",
    "rules.valid": "规章 · 现行有效件数",
    "permits": "行政许可 · 本年处理决定数量",
    "penalties": "行政处罚 · 本年处理决定数量",
    "enforcement": "行政强制 · 本年处理决定数量",
}
MONEY: dict[str, str] = {"fee_income": "行政事业性收费 · 本年收费金额（万元）"}
# 行政复议 and the two kinds of 行政诉讼, each with the template's four outcomes (the total is summed).
LAW_KINDS: dict[str, str] = {
    "review": "行政复议",
    "suit": "行政诉讼（未经复议直接起诉）",
    "suit_after": "行政诉讼（复议后起诉）",
}
LAW_OUTCOMES: dict[str, str] = {
    "upheld": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
    "pending": "尚未审结",
}
for _kind, _kind_label in LAW_KINDS.items():
    for _outcome, _outcome_label in LAW_OUTCOMES.items():
        NUMBERS[f"{_kind}.{_outcome}"] = f"{_kind_label} · {_outcome_label}"
TEXTS: dict[str, str] = {
    "overview": "一、总体情况",
    "problems": "五、存在的主要问题及改进情况",
    "other": "六、其他需要报告的事项",
}
FIELDS: dict[str, str] = {**TEXTS, **NUMBERS, **MONEY}
MAX_NUMBER = 10_000_000
MAX_TEXT = 10_000

# The template's outcome rows of section 三 and the answer types (applications.answer_type) they count.
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("disclosed", "（一）予以公开"),
    ("partly", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
    ("refused", "（三）不予公开"),
    ("unable", "（四）无法提供"),
    ("not_handled", "（五）不予处理"),
    ("other", "（六）其他处理"),
)
_ANSWER_WORDS = (
    ("partly", "部分公开"),
    ("refused", "不予公开"),
    ("unable", "无法提供"),
    ("not_handled", "不予处理"),
    ("disclosed", "予以公开"),
    ("disclosed", "公开"),
)


def outcome_of(answer_type: str | None) -> str:
    """An answer type as entered (予以公开, 部分公开, …) -> the template's outcome row."""
    text = answer_type or ""
    return next((key for key, word in _ANSWER_WORDS if word in text), "other")


@dataclass(frozen=True)
class Report:
    year: int
    normative: dict[str, int]  # made, abolished, valid: the policies (行政规范性文件) the service published
    applications: dict[str, int]  # received, carried_in, outcome keys, total, carried_out
    inputs: dict[str, Any]
    updated_by: str | None
    updated_at: datetime | None

    def number(self, key: str) -> int | None:
        value = self.inputs.get(key)
        return int(value) if isinstance(value, int) else None

    def law_total(self, kind: str) -> int | None:
        values = [self.number(f"{kind}.{o}") for o in LAW_OUTCOMES]
        return None if all(v is None for v in values) else sum(v or 0 for v in values)

    def paragraphs(self, key: str) -> list[str]:
        return [p.strip() for p in str(self.inputs.get(key) or "").splitlines() if p.strip()]


def policy_figures(policies: dict[tuple[str, str, bool], int], year: int) -> tuple[int, int, int]:
    """(made, abolished, valid) for `year` from the maintained policy counts (migration 0017:
    publication year, '<validity>|<year of its change>', withdrawn), so the report costs the
    number of years, not a read of every policy ever published:

    - made: first published in the year (withdrawn ones included: they were made);
    - abolished: abolished or expired in the year;
    - valid: in force at the end of the year — published by then, not withdrawn, and either
      still 有效 or changed only after the year.
    """
    made = abolished = valid = 0
    ended = (Validity.ABOLISHED.value, Validity.EXPIRED.value)
    for (published, change, withdrawn), n in policies.items():
        validity, _, changed = change.partition("|")
        if published == str(year):
            made += n
        if validity in ended and changed == str(year):
            abolished += n
        if published and int(published) <= year and not withdrawn:
            if validity == Validity.VALID or (changed and int(changed) > year):
                valid += n
    return made, abolished, valid


def build(session: Session, year: int) -> Report:
    first, last = date(year, 1, 1), date(year, 12, 31)
    made, abolished, valid = policy_figures(counters.read(session, counters.POLICY).policies, year)
    received = session.execute(
        select(func.count())
        .select_from(Application)
        .where(Application.received_on >= first, Application.received_on <= last)
    ).scalar_one()
    answered = session.execute(
        select(Application.answer_type, Application.received_on).where(
            Application.answered_on >= first, Application.answered_on <= last
        )
    ).all()
    outcomes = Counter(outcome_of(t) for t, _ in answered)
    carried_in = sum(1 for _, received_on in answered if received_on < first)
    carried_out = session.execute(
        select(func.count())
        .select_from(Application)
        .where(
            Application.received_on >= first, Application.received_on <= last, Application.answered_on > last
        )
    ).scalar_one()
    apps = {
        "received": received,
        "carried_in": carried_in,
        "total": len(answered),
        "carried_out": carried_out,
    }
    apps.update({key: outcomes.get(key, 0) for key, _ in OUTCOMES})
    row = session.get(AnnualReportInput, year)
    return Report(
        year=year,
        normative={"made": made, "abolished": abolished, "valid": valid},
        applications=apps,
        inputs=dict(row.data) if row is not None else {},
        updated_by=row.updated_by if row is not None else None,
        updated_at=row.updated_at if row is not None else None,
    )


_INT = re.compile(r"^\d{1,8}$")


def parse_inputs(form: dict[str, str]) -> dict[str, Any]:
    """The form's values, checked: a bad one is an error naming its field. Blank = 未填报."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, label in TEXTS.items():
        text = (form.get(key) or "").strip()
        if len(text) > MAX_TEXT:
            errors.append(FieldError(key, f"{label}不能超过 {MAX_TEXT} 字"))
        elif "\x00" in text:
            errors.append(FieldError(key, f"{label}含有无效字符"))
        elif text:
            out[key] = text
    for key, label in NUMBERS.items():
        raw = (form.get(key) or "").strip()
        if not raw:
            continue
        if not _INT.match(raw) or int(raw) > MAX_NUMBER:
            errors.append(FieldError(key, f"{label}应为 0 到 {MAX_NUMBER} 之间的整数"))
        else:
            out[key] = int(raw)
    for key, label in MONEY.items():
        raw = (form.get(key) or "").strip()
        if not raw:
            continue
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or amount > MAX_NUMBER or amount.as_tuple().exponent < -4:  # type: ignore[operator]
            errors.append(FieldError(key, f"{label}应为不小于 0 的金额，最多四位小数"))
        else:
            out[key] = str(amount)
    if errors:
        raise ValidationError(errors)
    return out


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only what changed, for the audit event: key -> [before, after]."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


__all__ = [
    "FIELDS",
    "LAW_KINDS",
    "LAW_OUTCOMES",
    "MONEY",
    "NUMBERS",
    "OUTCOMES",
    "TEXTS",
    "Report",
    "build",
    "changed_fields",
    "outcome_of",
    "parse_inputs",
]
