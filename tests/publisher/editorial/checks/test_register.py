"""Names and titles register: a title not held on the issue date, a name one character off."""

from __future__ import annotations

from publisher.editorial.checks.register import Held
from tests.publisher.editorial.checks.support import d, only, run

PEOPLE = [
    Held("张三", "副局长", d("2015-01-01"), d("2017-12-31")),
    Held("张三", "局长", d("2018-01-01"), d("2020-12-31")),
    Held("李四", "局长", d("2021-01-01")),
    Held("王建国", "副局长", d("2019-01-01")),
]


def check(body: str, issue: str = "2019-04-04") -> list:  # type: ignore[type-arg]
    return run({"issue_date": issue}, body=f"<p>{body}</p>", people=PEOPLE)


def test_a_title_held_on_the_issue_date_is_right_before_or_after_the_name() -> None:
    assert only(check("局长张三出席会议。"), "register.title") == []
    assert only(check("张三局长出席会议。"), "register.title") == []
    assert only(check("副局长王建国主持。"), "register.title") == []


def test_a_title_not_held_on_the_issue_date_blocks_with_the_title_held_then() -> None:
    [p] = only(check("副局长张三出席会议。"), "register.title")
    assert p.matched == "副局长张三"
    assert p.suggestion == "局长张三"
    assert "2015-01-01 至 2017-12-31" in p.message and "时任局长" in p.message
    [q] = only(check("局长李四出席。"), "register.title")
    assert "2021-01-01 至 今" in q.message and q.suggestion is None


def test_the_longest_title_counts_and_the_issue_date_decides() -> None:
    # 副局长 contains 局长: "副局长张三" is judged as 副局长, not as 局长
    assert only(check("副局长张三出席。", issue="2016-05-01"), "register.title") == []
    assert len(only(check("局长张三出席。", issue="2016-05-01"), "register.title")) == 1


def test_a_title_marked_former_is_right_after_the_term_ended() -> None:
    assert only(check("原局长张三出席。", issue="2022-03-01"), "register.title") == []
    assert only(check("时任副局长张三。", issue="2022-03-01"), "register.title") == []
    assert len(only(check("局长张三出席。", issue="2022-03-01"), "register.title")) == 1


def test_a_name_one_character_off_next_to_a_title_blocks_with_the_registered_name() -> None:
    [p] = only(check("局长张山出席会议。"), "register.name")
    assert p.matched == "张山" and p.suggestion == "张三"
    [q] = only(check("王建军副局长主持。"), "register.name")
    assert q.matched == "王建军" and q.suggestion == "王建国"


def test_near_misses_that_must_not_fire() -> None:
    quiet = [
        "张山同志参加会议。",  # no title next to it: another person may be meant
        "局长办公会议审议通过。",  # a title followed by ordinary words
        "局长张三主持会议。",  # a registered name followed by more text
        "局长、副局长分别参加。",
        "局长 Zhang 出席。",
    ]
    for body in quiet:
        assert [p.rule for p in check(body) if p.rule.startswith("register.")] == [], body


def test_an_empty_register_checks_nothing() -> None:
    assert only(run(body="<p>副局长张三</p>"), "register.title") == []
