"""Wording: dictionary entries, width and space tolerance, allow-list, severities; near misses."""

from __future__ import annotations

import pytest

from publisher.editorial.checks.problem import Severity
from publisher.editorial.checks.wording import Dictionary, Kind, Term, read_tsv
from tests.publisher.editorial.checks.support import STARTER_TERMS, only, run


@pytest.mark.parametrize(
    "body,matched,suggestion",
    [
        ("<p>深入开展扫黑险恶专项斗争。</p>", "扫黑险恶", "扫黑除恶"),
        ("<p>深入开展扫 黑 险 恶专项斗争。</p>", "扫 黑 险 恶", "扫黑除恶"),
        ("<p>深入开展扫黑<strong>险</strong>恶专项斗争。</p>", "扫黑险恶", "扫黑除恶"),
        ("<p>各单位要再接再励。</p>", "再接再励", "再接再厉"),
        ("<p>截止目前，已完成。</p>", "截止目前", "截至目前"),
    ],
)
def test_a_known_wrong_form_blocks_with_the_right_one(body: str, matched: str, suggestion: str) -> None:
    [p] = only(run(body=body), "wording.wrong")
    assert p.severity is Severity.BLOCK and p.matched == matched and p.suggestion == suggestion
    assert p.field == "body_html" and p.label == "正文"
    assert body[p.start : p.end].replace("<strong>", "").replace("</strong>", "") == matched


def test_the_right_forms_and_near_misses_do_not_fire() -> None:
    body = "<p>深入开展扫黑除恶专项斗争，再接再厉；截至目前已完成。扫黑</p><p>险恶</p>"
    assert only(run(body=body), "wording.wrong") == []


def test_normative_wording_warns_and_names_the_normative_form() -> None:
    [p] = only(run(body="<p>推进一带一路战略。</p>"), "wording.normative")
    assert p.severity is Severity.WARN and p.suggestion == "“一带一路”倡议"


def test_an_entry_can_carry_its_own_severity() -> None:
    [p] = only(run(body="<p>会见台湾总统。</p>"), "wording.normative")
    assert p.severity is Severity.BLOCK


def test_forbidden_words_match_across_full_width_and_case() -> None:
    [p] = only(run(body="<p>ＬＯＲＥＭ　ipsum dolor</p>"), "wording.forbidden")
    assert p.matched == "ＬＯＲＥＭ　ipsum"


def test_every_prose_field_is_read_and_named_in_chinese() -> None:
    problems = run(
        {
            "title": "扫黑险恶工作通知",
            "description": "再接再励",
            "keywords": ["布署"],
            "attachments": [{"title": "重迭项目清单", "url": "https://example.org/a.pdf"}],
        }
    )
    labels = {p.label for p in only(problems, "wording.wrong")}
    assert labels == {"信息名称", "内容描述", "关键词1", "附件1名称"}


def test_an_allowed_phrase_suppresses_a_term_inside_it() -> None:
    extra = (Term("示范词", Kind.FORBIDDEN), Term("示范词典", Kind.ALLOW))
    assert only(run(body="<p>示范词典</p>", extra=extra), "wording.forbidden") == []
    assert len(only(run(body="<p>示范词</p>", extra=extra), "wording.forbidden")) == 1


def test_overlapping_terms_report_the_longest() -> None:
    extra = (Term("财政资", Kind.FORBIDDEN), Term("财政资金管", Kind.FORBIDDEN))
    [p] = only(run({"title": "通知"}, body="<p>财政资金管理</p>", extra=extra), "wording.forbidden")
    assert p.matched == "财政资金管"


def test_an_off_entry_switches_a_starter_entry_off() -> None:
    d = Dictionary([*STARTER_TERMS, Term("再接再励", Kind.OFF)])
    assert "再接再励" not in d.terms and len(d) == len({t.key for t in STARTER_TERMS}) - 1


def test_later_entries_replace_earlier_ones_of_the_same_term() -> None:
    d = Dictionary([Term("甲乙", Kind.WRONG, "甲丙"), Term("甲 乙", Kind.FORBIDDEN)])
    assert d.terms["甲乙"].kind is Kind.FORBIDDEN


def test_positions_are_right_after_astral_characters_and_many_matches() -> None:
    body = "<p>𠀀𠀁再接再励" + "文字" * 50 + "再接再励</p>"
    hits = only(run(body=body), "wording.wrong")
    assert [body[p.start : p.end] for p in hits] == ["再接再励", "再接再励"]


def test_the_starter_file_parses_and_every_wrong_entry_has_its_right_form() -> None:
    assert len(STARTER_TERMS) > 100
    assert all(t.suggestion for t in STARTER_TERMS if t.kind is Kind.WRONG)
    assert all(t.key != (t.suggestion or "") for t in STARTER_TERMS)


def test_a_malformed_dictionary_file_names_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "w.tsv"
    path.write_text("# c\nwrong\t甲\t乙\nbogus\t丙\n", encoding="utf-8")
    with pytest.raises(ValueError, match="w.tsv:3"):
        read_tsv(path)
