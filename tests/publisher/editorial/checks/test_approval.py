"""The checks in the workflow, on SQLite and PostgreSQL: one list with the channels' pre-flight,
blocks and unaccepted warns refuse the approval, acceptances are audited and end with the text
they accepted, ops change the dictionary and register (versioned, audited)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select

from publisher.domain.errors import FieldError, NotFoundError, PermissionDeniedError, ValidationError
from publisher.editorial.checks import Problem, Severity, Source, store
from publisher.editorial.checks.links import Probe
from publisher.runtime import Runtime
from publisher.store.models import Delivery, ItemVersion
from tests.conftest import Team
from tests.samples import policy, sample


class Fetcher:
    """Stands in for the egress guard: answers from a table, records what it was asked."""

    def __init__(self, answers: dict[str, int] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[str] = []

    def probe(self, url: str) -> Probe:
        self.calls.append(url)
        return Probe(url, self.answers.get(url, 200), url)


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    runtime = make_runtime(channels={"rss": {"enabled": True}}, executor=False)
    assert runtime.checks is not None
    runtime.checks.links.fetcher = Fetcher()
    return runtime


def awaiting(rt: Runtime, team: Team, data: dict) -> str:  # type: ignore[type-arg]
    item = rt.service.create_item(team.editor, data)
    rt.service.submit(team.editor, item.uid)
    rt.service.review(team.reviewer, item.uid)
    return item.uid


def written(rt: Runtime) -> tuple[int, int]:
    with rt.db.reader() as s:
        return (
            s.execute(select(func.count(ItemVersion.id))).scalar_one(),
            s.execute(select(func.count(Delivery.id))).scalar_one(),
        )


def refused(rt: Runtime, team: Team, uid: str) -> list[Problem]:
    before = written(rt)
    with pytest.raises(ValidationError) as exc:
        rt.service.approve(team.approver, uid)
    assert written(rt) == before
    assert all(isinstance(e, Problem) for e in exc.value.errors)
    return [e for e in exc.value.errors if isinstance(e, Problem)]


def test_a_block_refuses_approval_until_the_item_is_corrected(rt: Runtime, team: Team) -> None:
    uid = awaiting(rt, team, policy(body_html="<p>深入开展扫黑险恶专项斗争。</p>"))
    [p] = refused(rt, team, uid)
    assert (p.rule, p.severity, p.source, p.matched, p.suggestion) == (
        "wording.wrong",
        Severity.BLOCK,
        Source.CONTENT,
        "扫黑险恶",
        "扫黑除恶",
    )
    rt.service.reject(team.approver, uid, "改正错误表述")
    rt.service.update_item(team.editor, uid, {"body_html": "<p>深入开展扫黑除恶专项斗争。</p>"})
    rt.service.submit(team.editor, uid)
    rt.service.review(team.reviewer, uid)
    rt.service.approve(team.approver, uid)
    assert rt.service.item_detail(uid)["state"] == "published"


def test_channel_and_content_problems_are_one_list_told_apart_by_source(rt: Runtime, team: Team) -> None:
    rt.service.preflight = lambda view, kinds: [FieldError("channels.wechat.short_title", "标题超过32字")]
    uid = awaiting(rt, team, policy(title="机密★1年 关于某事项的通知"))
    problems = refused(rt, team, uid)
    by_source = {(p.source, p.rule) for p in problems}
    assert by_source == {(Source.CHANNEL, "channel.wechat"), (Source.CONTENT, "secrecy.mark")}
    channel = next(p for p in problems if p.source is Source.CHANNEL)
    assert channel.field == "channels.wechat.short_title" and channel.label == "公众号 · 微信短标题"
    assert channel.channel == "wechat"


def test_a_warn_refuses_until_a_reviewer_accepts_it_with_a_reason(rt: Runtime, team: Team) -> None:
    uid = awaiting(rt, team, policy(body_html="<p>推进一带一路战略。</p>"))
    [warn] = refused(rt, team, uid)
    assert warn.severity is Severity.WARN and warn.accepted is None
    with pytest.raises(PermissionDeniedError):
        rt.check_service.accept(team.editor, uid, warn.key, "理由")
    with pytest.raises(ValidationError, match="理由"):
        rt.check_service.accept(team.reviewer, uid, warn.key, "  ")
    report = rt.check_service.accept(team.reviewer, uid, warn.key, "引用2015年文件原文，保持原表述")
    assert report.blocking == [] and report.problems[0].accepted is not None
    assert report.problems[0].accepted.by == "reviewer"
    with pytest.raises(ValidationError, match="已被接受"):
        rt.check_service.accept(team.reviewer, uid, warn.key, "again")
    rt.service.approve(team.approver, uid)
    events = [e for e in rt.service.audit_events(uid) if e["action"] == "check.accept"]
    assert len(events) == 1 and events[0]["reason"] == "引用2015年文件原文，保持原表述"
    assert events[0]["data"]["rule"] == "wording.normative" and events[0]["data"]["revision"]


def test_a_block_can_never_be_accepted(rt: Runtime, team: Team) -> None:
    uid = awaiting(rt, team, policy(body_html="<p>身份证号 11010519491231002X</p>"))
    [block] = refused(rt, team, uid)
    with pytest.raises(ValidationError, match="须改正"):
        rt.check_service.accept(team.reviewer, uid, block.key, "我确定")
    with pytest.raises(ValidationError, match="不存在"):
        rt.check_service.accept(team.reviewer, uid, "0" * 32, "no such problem")


def test_an_edit_ends_the_acceptance_of_changed_text_only(rt: Runtime, team: Team) -> None:
    body = "<p>推进一带一路战略。</p><p>其他内容。</p>"
    uid = awaiting(rt, team, policy(body_html=body))
    [warn] = refused(rt, team, uid)
    rt.check_service.accept(team.reviewer, uid, warn.key, "原文引用")

    def back_to_awaiting(patch: dict) -> None:  # type: ignore[type-arg]
        rt.service.reject(team.approver, uid, "再改")
        rt.service.update_item(team.editor, uid, patch)
        rt.service.submit(team.editor, uid)
        rt.service.review(team.reviewer, uid)

    back_to_awaiting({"title": "关于推进有关工作的通知", "body_html": body.replace("其他内容", "另一段")})
    assert rt.check_service.item_report(uid)[1].blocking == []  # the accepted text did not change
    back_to_awaiting({"body_html": "<p>继续推进一带一路战略。</p>"})
    [again] = refused(rt, team, uid)
    assert again.accepted is None and again.key != warn.key


def test_acceptances_only_during_review_and_approval(rt: Runtime, team: Team) -> None:
    item = rt.service.create_item(team.editor, policy(body_html="<p>推进一带一路战略。</p>"))
    [warn] = rt.check_service.item_report(item.uid)[1].problems
    with pytest.raises(Exception, match="审查或批准阶段"):
        rt.check_service.accept(team.reviewer, item.uid, warn.key, "理由")


def test_ops_maintain_the_dictionary_versioned_and_audited(rt: Runtime, team: Team) -> None:
    checks = rt.checks
    assert checks is not None
    uid = rt.service.create_item(team.editor, policy(body_html="<p>各处室要再接再励，落实示范要求。</p>")).uid
    assert [p.rule for p in rt.check_service.item_report(uid)[1].problems] == ["wording.wrong"]

    with pytest.raises(PermissionDeniedError):
        rt.db.run(lambda s: store.add_term(s, team.editor, "示范要求", "forbidden"))
    rt.db.run(lambda s: store.add_term(s, team.ops, "示范要求", "forbidden", note="测试"))
    assert {p.matched for p in rt.check_service.item_report(uid)[1].problems} == {"再接再励", "示范要求"}

    # switching a starter entry off, then removing the addition: each a new version
    out = rt.db.run(lambda s: store.remove_term(s, team.ops, "再接再励", starter=checks.starter))
    assert out["starter_switched_off"] is True
    rt.db.run(lambda s: store.remove_term(s, team.ops, "示范要求", starter=checks.starter))
    assert rt.check_service.item_report(uid)[1].problems == []
    with rt.db.reader() as s:
        assert store.versions(s)["wording"] == 3
        rows = store.term_rows(s, include_removed=True)
    assert [(r["term"], r["kind"], r["added_version"], r["removed_version"]) for r in rows] == [
        ("示范要求", "forbidden", 1, 3),
        ("再接再励", "off", 2, None),
    ]
    actions = [e["action"] for e in rt.service.audit_events() if e["action"].startswith("check.")]
    assert actions == ["check.word.add", "check.word.remove", "check.word.remove"]
    with pytest.raises(NotFoundError):
        rt.db.run(lambda s: store.remove_term(s, team.ops, "从未有过的词", starter=checks.starter))
    with pytest.raises(ValidationError):
        rt.db.run(lambda s: store.add_term(s, team.ops, "甲乙", "wrong"))  # a wrong form needs its right form


def test_ops_maintain_the_register(rt: Runtime, team: Team) -> None:
    uid = rt.service.create_item(
        team.editor, policy(issue_date="2026-11-20", body_html="<p>局长王明出席。</p>")
    ).uid
    assert rt.check_service.item_report(uid)[1].problems == []
    added = rt.db.run(lambda s: store.add_person(s, team.ops, "王明", "副局长", date(2020, 1, 1)))
    [p] = rt.check_service.item_report(uid)[1].problems
    assert p.rule == "register.title" and p.suggestion == "副局长王明"
    rt.db.run(lambda s: store.add_person(s, team.ops, "王明", "局长", date(2026, 6, 1)))
    assert rt.check_service.item_report(uid)[1].problems == []
    rt.db.run(lambda s: store.remove_person(s, team.ops, added["id"]))
    with rt.db.reader() as s:
        assert store.versions(s)["people"] == 3
        assert [r["title"] for r in store.people_rows(s)] == ["局长"]
    with pytest.raises(ValidationError):
        rt.db.run(lambda s: store.add_person(s, team.ops, "王明", "局长", date(2026, 6, 1), date(2026, 1, 1)))
    with pytest.raises(PermissionDeniedError):
        rt.db.run(lambda s: store.add_person(s, team.editor, "赵六", "处长", date(2020, 1, 1)))


def test_approval_probes_the_links_typing_does_not(rt: Runtime, team: Team) -> None:
    fetcher = rt.checks.links.fetcher  # type: ignore[union-attr]
    assert isinstance(fetcher, Fetcher)
    fetcher.answers["https://gone.example/a"] = 404
    body = '<p>见<a href="https://gone.example/a">《办法》全文</a>。</p>'
    draft = rt.check_service.draft_report(policy(body_html=body))
    assert fetcher.calls == [] and draft.links_unchecked == 1
    uid = awaiting(rt, team, policy(body_html=body))
    assert fetcher.calls == []
    [p] = refused(rt, team, uid)
    assert p.rule == "links.dead" and fetcher.calls == ["https://gone.example/a"]
    # the result is cached: the item page shows it without another request
    assert [q.rule for q in rt.check_service.item_report(uid)[1].problems] == ["links.dead"]
    assert fetcher.calls == ["https://gone.example/a"]


def test_a_release_group_member_is_named_by_title(rt: Runtime, team: Team) -> None:
    plan = awaiting(rt, team, sample("policy-2019-plan", index_number=None))
    interp = sample("interp-2019-plan", interprets=plan, body_html="<p>内部资料</p>")
    interp_uid = awaiting(rt, team, interp)
    problems = refused(rt, team, plan)
    [p] = problems
    assert p.field == f"group[{interp_uid}].body_html" and p.item_title == interp["title"]
    assert p.rule == "secrecy.phrase"


def test_the_samples_pass_every_check_through_the_workflow(rt: Runtime, team: Team) -> None:
    uid = awaiting(rt, team, sample("fee-2019-adjust"))
    rt.service.approve(team.approver, uid)
    assert rt.service.item_detail(uid)["state"] == "published"


def test_leaving_every_channel_out_never_clears_a_content_block(rt: Runtime, team: Team) -> None:
    uid = awaiting(rt, team, policy(body_html="<p>本材料为内部资料。</p>"))
    before = written(rt)
    with pytest.raises(ValidationError) as exc:
        rt.service.approve(team.approver, uid, ["rss"], exclude_reason="先发其他渠道")
    assert [e.rule for e in exc.value.errors if isinstance(e, Problem)] == ["secrecy.phrase"]
    assert written(rt) == before and rt.service.item_detail(uid)["state"] == "awaiting_approval"
