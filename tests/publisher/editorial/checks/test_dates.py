"""Dates: no backdated publication, no issue date in the future beyond the margin."""

from __future__ import annotations

from datetime import timedelta

from publisher.editorial.checks import check_subject, subject_of
from publisher.editorial.checks.register import Register
from publisher.settings import ChecksSettings
from tests.publisher.editorial.checks.support import NOW, dictionary, only, run


def test_a_first_publication_time_before_the_approval_is_refused() -> None:
    [p] = only(run(publish_at=NOW - timedelta(minutes=1)), "dates.publish_before_approval")
    assert p.field == "publish_at" and p.label == "定时发布" and p.matched == "2026-12-02 11:59"
    assert only(run(publish_at=NOW + timedelta(minutes=1)), "dates.publish_before_approval") == []
    assert only(run(), "dates.publish_before_approval") == []


def test_a_revision_keeps_its_original_publication_date() -> None:
    earlier = NOW - timedelta(days=30)
    assert only(run(publish_at=earlier, published_at=earlier), "dates.publish_before_approval") == []


def test_the_publish_time_of_a_typed_draft_is_read_from_the_draft() -> None:
    problems = run({"publish_at": "2026-12-01T09:00:00+08:00"})
    assert len(only(problems, "dates.publish_before_approval")) == 1
    assert (
        only(run({"publish_at": "2026-12-01T09:00:00"}), "dates.publish_before_approval") == []
    )  # no offset: not a time


def test_an_issue_date_after_today_is_refused_beyond_the_margin() -> None:
    assert only(run({"issue_date": "2026-12-02"}), "dates.issue_in_future") == []  # today in Beijing
    [p] = only(run({"issue_date": "2026-12-03"}), "dates.issue_in_future")
    assert p.field == "issue_date" and p.suggestion == "不晚于 2026-12-02"
    assert only(run({"issue_date": "2019-04-04"}), "dates.issue_in_future") == []  # 印发 may be long before

    subject = subject_of({"issue_date": "2026-12-05"})
    kw = {"dictionary": dictionary(), "people": Register([]), "now": NOW}
    assert not only(
        check_subject(subject, settings=ChecksSettings(issue_date_margin_days=3), **kw),
        "dates.issue_in_future",
    )
    assert only(
        check_subject(subject, settings=ChecksSettings(issue_date_margin_days=2), **kw),
        "dates.issue_in_future",
    )


def test_today_is_beijing_time() -> None:
    late = NOW.replace(hour=17)  # 01:00 on 12-03 in Beijing
    assert only(run({"issue_date": "2026-12-03"}, now=late), "dates.issue_in_future") == []
