"""Dates: a forged or impossible date never goes out.

    dates.publish_before_approval (block)  a first publication whose 发布时间 (publish_at) is
        earlier than now, i.e. than the approval: the published date would be backdated. A
        revision of a published item keeps its original publication date and is not judged.
        The 印发日期 (issue date) and 成文日期 may of course be earlier.
    dates.issue_in_future (block)  an issue date later than today (Beijing time) plus
        `[checks] issue_date_margin_days`.

That every public page and feed entry shows the publication date is tested on the pages and
feeds themselves (tests/publisher/web/test_public_dates.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from publisher.domain.clock import local, local_today
from publisher.editorial.checks.fields import Subject, anchor_of, label_of
from publisher.editorial.checks.problem import Problem, Severity, fingerprint


def check(subject: Subject, now: datetime, margin_days: int) -> Iterator[Problem]:
    if subject.publish_at is not None and subject.published_at is None and subject.publish_at < now:
        shown = local(subject.publish_at).strftime("%Y-%m-%d %H:%M")
        yield Problem(
            "publish_at",
            f"发布时间 {shown} 早于批准时间，发布日期不得倒签；请清空（批准即发布）或改为将来的时间 "
            "/ the publication time is before the approval: clear it or set a later time",
            rule="dates.publish_before_approval",
            severity=Severity.BLOCK,
            label=label_of("publish_at"),
            anchor=anchor_of("publish_at"),
            matched=shown,
            suggestion="清空定时发布时间 / clear publish_at",
            key=fingerprint("dates.publish_before_approval", subject.publish_at.isoformat()),
        )
    if subject.issue_date is not None:
        latest = local_today(now) + timedelta(days=margin_days)
        if subject.issue_date > latest:
            yield Problem(
                "issue_date",
                f"印发日期 {subject.issue_date.isoformat()} 晚于今天"
                + (f"（允许提前 {margin_days} 天）" if margin_days else "")
                + " / the issue date is in the future",
                rule="dates.issue_in_future",
                severity=Severity.BLOCK,
                label=label_of("issue_date"),
                anchor=anchor_of("issue_date"),
                matched=subject.issue_date.isoformat(),
                suggestion=f"不晚于 {latest.isoformat()}",
                key=fingerprint("dates.issue_in_future", subject.issue_date.isoformat()),
            )
