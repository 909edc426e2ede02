"""Helpers for the content-check tests: a subject from a few fields, the rules run on it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from publisher.editorial.checks import Problem, check_subject, subject_of
from publisher.editorial.checks.links import Probe
from publisher.editorial.checks.register import Held, Register
from publisher.editorial.checks.wording import STARTER, Dictionary, Term, read_tsv

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 Beijing time
STARTER_TERMS = read_tsv(STARTER)


def dictionary(*extra: Term) -> Dictionary:
    return Dictionary([*STARTER_TERMS, *extra])


def run(
    content: dict[str, Any] | None = None,
    *,
    body: str | None = None,
    extra: tuple[Term, ...] = (),
    people: list[Held] | None = None,
    now: datetime = NOW,
    links: dict[str, Probe] | None = None,
    **kwargs: Any,
) -> list[Problem]:
    data: dict[str, Any] = {
        "type": "policy",
        "title": "关于做好财政资金管理工作的通知",
        "issue_date": "2026-11-20",
    }
    data.update(content or {})
    if body is not None:
        data["body_html"] = body
    subject = subject_of(
        data,
        uid=kwargs.get("uid"),
        publish_at=kwargs.get("publish_at"),
        published_at=kwargs.get("published_at"),
    )
    return check_subject(
        subject,
        dictionary=dictionary(*extra),
        people=Register(people or []),
        now=now,
        link_results=links,
        public_base_url="http://pub.example",
    )


def rules(problems: list[Problem]) -> list[str]:
    return [p.rule for p in problems]


def only(problems: list[Problem], rule: str) -> list[Problem]:
    return [p for p in problems if p.rule == rule]


def d(text: str) -> date:
    return date.fromisoformat(text)
