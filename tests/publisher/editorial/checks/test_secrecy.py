"""Secrecy markings: classification marks and internal-only phrases block; ordinary prose does not."""

from __future__ import annotations

import pytest

from publisher.editorial.checks.problem import Severity
from publisher.editorial.checks.wording import Kind, Term
from tests.publisher.editorial.checks.support import only, run


@pytest.mark.parametrize(
    "body,matched",
    [
        ("<p>机密★1年</p>", "机密★1年"),
        ("<p>秘密★6个月</p><p>正文</p>", "秘密★6个月"),
        ("<p>绝密★长期</p>", "绝密★长期"),
        ("<p>机密 ★ 2 年</p>", "机密 ★ 2 年"),
        ("<p>秘密☆</p>", "秘密☆"),
        ("<p>机密１年</p>", "机密１年"),
        ("<p>【机密】关于某事项的通知</p>", "【机密】"),
        ("<p>（秘密）</p>", "（秘密）"),
        ("<p>秘密</p><p>关于某事项的通知</p>", "秘密"),
        ("<h2>机密级</h2>", "机密级"),
        ("<p>密级：机密</p>", "密级：机密"),
    ],
)
def test_classification_marks_block(body: str, matched: str) -> None:
    [p] = only(run(body=body), "secrecy.mark")
    assert p.matched == matched and p.severity is Severity.BLOCK
    assert body[p.start : p.end] == matched


@pytest.mark.parametrize("phrase", ["内部资料", "内部文件", "注意保密", "内部传阅", "不得外传", "内部 资料"])
def test_internal_only_phrases_block(phrase: str) -> None:
    [p] = only(run(body=f"<p>本材料为{phrase}。</p>"), "secrecy.phrase")
    assert p.matched == phrase


@pytest.mark.parametrize(
    "body",
    [
        "<p>涉及商业秘密、个人隐私的信息不予公开。</p>",
        "<p>属于国家秘密的，依法不予公开。</p>",
        "<p>工作秘密应当妥善管理。</p>",
        "<p>他秘密地离开了。</p>",
        "<p>加强保密审查，做好保密工作。</p>",
        "<p>提高信息系统的机密性和完整性。</p>",
        "<p>完善内部控制和内部审计。</p>",
        "<p>本信息为非涉密信息。</p>",
        "<p>秘密文件的管理办法另行制定。</p>",
        "<p>依法保护商业秘密</p>",  # a level word ending a paragraph is not a paragraph of its own
        "<td>属于国家机密</td>",
    ],
)
def test_ordinary_prose_with_the_same_words_does_not_fire(body: str) -> None:
    assert [p.rule for p in run(body=body) if p.rule.startswith("secrecy.")] == []


def test_title_metadata_and_attachment_names_are_read() -> None:
    problems = run(
        {
            "title": "关于某事项的通知（机密★1年）",
            "description": "内部资料，注意保密",
            "doc_number": "沪财预〔2026〕12号",
            "attachments": [
                {
                    "title": "附件一",
                    "url": "https://example.org/files/%E6%9C%BA%E5%AF%86%E2%98%851%E5%B9%B4.pdf",
                }
            ],
        }
    )
    where = {(p.rule, p.field) for p in problems if p.rule.startswith("secrecy.")}
    assert where == {
        ("secrecy.mark", "title"),
        ("secrecy.phrase", "description"),
        ("secrecy.mark", "attachments.0.name"),
    }
    [name] = [p for p in problems if p.field == "attachments.0.name"]
    assert name.label == "附件1文件名" and name.matched == "机密★1年"


def test_an_allowed_phrase_covers_an_internal_phrase_but_never_a_mark() -> None:
    extra = (Term("内部文件管理办法", Kind.ALLOW), Term("机密★", Kind.ALLOW))
    assert only(run(body="<p>《内部文件管理办法》</p>", extra=extra), "secrecy.phrase") == []
    assert len(only(run(body="<p>机密★1年</p>", extra=extra), "secrecy.mark")) == 1


def test_the_body_s_link_file_names_and_image_texts_are_read() -> None:
    body = (
        '<p>见<a href="https://a.example/files/%E6%9C%BA%E5%AF%86%E2%98%851%E5%B9%B4-%E5%90%8D%E5%8D%95.pdf">'
        "名单</a>。</p>"
        '<p><img src="https://a.example/i/chart.png" alt="内部资料：预算结构" title="绝密★长期"></p>'
        '<p><a href="https://a.example/files/2026-budget.pdf" title="2026年预算">预算表</a></p>'
    )
    found = {(p.rule, p.field, p.label, p.matched) for p in run(body=body) if p.rule.startswith("secrecy.")}
    assert found == {
        ("secrecy.mark", "body_html.links.1.name", "正文第1个链接的文件名", "机密★1年"),
        ("secrecy.phrase", "body_html.images.1.alt", "正文第1张图片的替代文字", "内部资料"),
        ("secrecy.mark", "body_html.images.1.title", "正文第1张图片的提示文字", "绝密★长期"),
    }
    assert all(p.anchor == "body_html" for p in run(body=body) if p.rule.startswith("secrecy."))
