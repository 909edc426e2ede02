"""The editorial workflow's rules one by one, on the real store (publisher/editorial/workflow.py,
issue 22): each test pins what a small wrong change to a rule would alter — the exact refusal,
the rows and audit events an approval, exclusion, abolition, withdrawal or scheduled release
writes, and what each leaves alone. test_workflow.py walks the happy paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from publisher.domain.clock import local
from publisher.domain.errors import (
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    TransitionError,
    ValidationError,
)
from publisher.domain.item import VersionView
from publisher.editorial import workflow
from publisher.editorial.checks.problem import Problem
from publisher.editorial.service import Service
from publisher.store.models import Delivery, Item
from tests.conftest import Team
from tests.samples import policy, sample

CHANNELS = ["rss", "cms", "wechat", "cityplatform"]  # as routed (config), in that order


def to_awaiting(service: Service, team: Team, data: dict[str, Any], author: Any = None) -> str:
    item = service.create_item(author or team.editor, data)
    service.submit(author or team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    return item.uid


def events(service: Service, uid: str, action: str) -> list[dict[str, Any]]:
    return [e for e in service.audit_events(uid) if e["action"] == action]


def by_channel(service: Service, uid: str, version: int | None = None) -> dict[str, dict[str, Any]]:
    return {d["channel"]: d for d in service.deliveries(uid) if version is None or d["version"] == version}


def set_columns(service: Service, uid: str, **values: Any) -> None:
    with service.db.transaction() as s:
        s.execute(update(Item).where(Item.uid == uid).values(**values))


def refusal(exc: pytest.ExceptionInfo[Any]) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in exc.value.errors]


# -- approve -------------------------------------------------------------------------------


def test_an_approval_records_what_it_released(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    before = datetime.now(UTC)
    outcome = service.approve(team.approver, uid)
    item = service.item_detail(uid)
    assert [i.uid for i in outcome.items] == [uid] and outcome.abolished == []
    assert (outcome.items[0].state, outcome.items[0].live_version) == ("published", 1)
    assert outcome.items[0].index_number == item["index_number"]
    assert outcome.channels == {d["id"]: c for c, d in by_channel(service, uid).items()}
    (approved,) = events(service, uid, "approve")
    assert approved["actor"] == "approver"
    assert approved["version_hash"] == item["versions"][0]["content_hash"]
    assert approved["data"] == {
        "version": 1,
        "operation": "publish",
        "channels": CHANNELS,
        "index_number": item["index_number"],
        "group": None,
    }
    published = datetime.fromisoformat(item["published_at"])
    assert before <= published.replace(tzinfo=published.tzinfo or UTC) <= datetime.now(UTC)
    assert item["live_version"] == 1
    assert item["index_number"] == f"AB1900010-{local(before).year}-001"
    keys = {c: d["key"] for c, d in by_channel(service, uid).items()}
    assert keys == {c: f"{uid}.v1.{c}.publish" for c in CHANNELS}
    # the frozen version carries what the release decided
    with service.db.reader() as s:
        content = workflow.get_item(s, uid).versions[0].content
    assert content["index_number"] == item["index_number"]
    assert content["validity"] == "有效" and content["validity_changed_on"] is None
    assert content["abolished_by"] is None
    assert datetime.fromisoformat(content["published_at"]) == datetime.fromisoformat(item["published_at"])
    # the draft's fields and the three the release decides, nothing else
    assert set(content) == set(item["content"]) | {"published_at", "validity_changed_on", "abolished_by"}


def test_an_approval_reads_the_items_own_makers_and_reviewers(service: Service, team: Team) -> None:
    # the history approve() reads with the item's row (`_read_item`), for an admin, who may
    # edit, review and approve: whoever edited or reviewed the version is refused
    uid = service.create_item(team.editor, policy()).uid
    service.update_item(team.admin, uid, {"title": "管理员改过的标题"})
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    with pytest.raises(PermissionDeniedError) as edited:
        service.approve(team.admin, uid)
    assert str(edited.value) == (
        "不能批准自己起草或修改过的信息《管理员改过的标题》（须由他人批准）/ the author or an editor of a "
        f"version never approves it (item {uid})"
    )
    other = service.create_item(team.editor, policy(title="另一份")).uid
    service.submit(team.editor, other)
    service.review(team.admin, other)
    with pytest.raises(PermissionDeniedError) as reviewed:
        service.approve(team.admin, other)
    assert str(reviewed.value) == (
        f"同一人不能既审查又批准信息《另一份》 / nobody both reviews and approves the same version (item {other})"
    )
    assert service.deliveries(uid) == [] and service.deliveries(other) == []
    service.approve(team.approver, other)  # anyone else may
    with pytest.raises(NotFoundError) as missing:
        service.approve(team.approver, "no-such-item")
    assert str(missing.value) == "未找到信息 no-such-item / item not found"


def test_a_revision_keeps_its_first_publication_time_and_number(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    first = service.item_detail(uid)
    service.update_item(team.editor, uid, {"description": "修订后的摘要。"})
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    outcome = service.approve(team.approver, uid)
    item = service.item_detail(uid)
    assert item["published_at"] == first["published_at"]
    assert item["index_number"] == first["index_number"] and item["live_version"] == 2
    assert events(service, uid, "approve")[-1]["data"]["operation"] == "update"
    v2 = by_channel(service, uid, 2)
    assert sorted(outcome.deliveries) == sorted(d["id"] for d in v2.values())
    assert {d["key"] for d in v2.values()} == {f"{uid}.v2.{c}.update" for c in CHANNELS}
    with service.db.reader() as s:
        content = workflow.get_item(s, uid).versions[1].content
    assert content["published_at"] == datetime.fromisoformat(first["published_at"]).isoformat() or (
        datetime.fromisoformat(content["published_at"]) == datetime.fromisoformat(first["published_at"])
    )


def test_an_unchanged_revision_is_refused_and_writes_nothing(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    service.update_item(team.editor, uid, {})  # pulled back into editing, nothing changed
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    deliveries = service.deliveries(uid)
    with pytest.raises(TransitionError) as exc:
        service.approve(team.approver, uid)
    assert str(exc.value) == (
        "《关于进一步规范财政资金管理的通知》内容未变更，无需重新批准 / nothing changed since the live version"
    )
    assert exc.value.current_state == "awaiting_approval"
    assert service.deliveries(uid) == deliveries
    assert service.item_detail(uid)["live_version"] == 1


def test_a_scheduled_approval_waits_for_its_time(service: Service, team: Team) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    uid = to_awaiting(service, team, policy(publish_at=later.isoformat()))
    outcome = service.approve(team.approver, uid)
    item = service.item_detail(uid)
    assert item["state"] == "approved" and item["published_at"] is None
    assert item["live_version"] == 1
    assert outcome.deliveries == [] and outcome.channels == {}
    due = {datetime.fromisoformat(d["next_attempt_at"]).replace(tzinfo=UTC) for d in service.deliveries(uid)}
    assert due == {later}
    with service.db.reader() as s:
        content = workflow.get_item(s, uid).versions[0].content
    assert datetime.fromisoformat(content["published_at"]) == later
    # not yet: a second before the time, nothing is released
    with service.db.transaction() as s:
        assert workflow.release_due(s, later - timedelta(seconds=1)).items == []
    assert service.item_detail(uid)["state"] == "approved"
    # at the time itself it goes
    with service.db.transaction() as s:
        released = workflow.release_due(s, later)
        assert [i.uid for i in released.items] == [uid]
        ids = released.deliveries
    item = service.item_detail(uid)
    assert item["state"] == "published"
    assert datetime.fromisoformat(item["published_at"]).replace(tzinfo=UTC) == later
    assert sorted(ids) == sorted(d["id"] for d in service.deliveries(uid))
    (release,) = events(service, uid, "release")
    assert release["actor"] == "system"


def test_release_due_wakes_only_queued_deliveries_and_keeps_a_publication_time(
    service: Service, team: Team
) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    uid = to_awaiting(service, team, policy(publish_at=later.isoformat()))
    service.approve(team.approver, uid)
    first = datetime(2020, 1, 1, tzinfo=UTC)
    set_columns(service, uid, published_at=first)
    with service.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.channel == "rss").values(state="held"))
    with service.db.transaction() as s:
        released = workflow.release_due(s, later + timedelta(minutes=1))
        ids = released.deliveries
    queued = {d["id"] for d in service.deliveries(uid) if d["channel"] != "rss"}
    assert sorted(ids) == sorted(queued)
    item = service.item_detail(uid)
    assert datetime.fromisoformat(item["published_at"]).replace(tzinfo=UTC) == first


def test_release_due_releases_each_due_item_with_its_own_queued_deliveries(
    service: Service, team: Team
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    first = to_awaiting(service, team, policy(title="定时一", publish_at=later.isoformat()))
    second = to_awaiting(service, team, policy(title="定时二", publish_at=later.isoformat()))
    service.approve(team.approver, first)
    service.approve(team.approver, second)
    live = to_awaiting(service, team, policy(title="已发布"))
    service.approve(team.approver, live)  # its deliveries are queued too, and not this run's
    with service.db.transaction() as s:
        released = workflow.release_due(s, later)
        uids, ids = [i.uid for i in released.items], released.deliveries
    assert sorted(uids) == sorted([first, second])
    # both items' deliveries, each once: none of the published item's
    assert sorted(ids) == sorted(d["id"] for uid in (first, second) for d in service.deliveries(uid))
    assert len(ids) == 8


def test_exclude_reason_is_at_most_500_characters(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, uid, ["wechat"], exclude_reason="理" * 501)
    assert refusal(exc) == [("exclude_reason", "排除理由最多 500 字 / at most 500 characters")]
    outcome = service.approve(team.approver, uid, ["wechat"], exclude_reason=" " + "理" * 500 + " ")
    wechat = by_channel(service, uid)["wechat"]
    assert wechat["state"] == "excluded" and wechat["id"] not in outcome.deliveries
    (excluded,) = events(service, uid, "delivery.exclude")
    assert excluded["reason"] == "理" * 500


def test_excluding_a_channel_the_approval_does_not_deliver_to_is_refused(
    service: Service, team: Team
) -> None:
    uid = to_awaiting(service, team, policy())
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, uid, ["wechat", "fax", "telex", "fax"])
    assert refusal(exc) == [
        ("exclude", "不是本次批准要投递的渠道 / not a channel this approval delivers to: fax, telex")
    ]
    assert service.item_detail(uid)["state"] == "awaiting_approval"


def test_an_excluded_channel_waits_with_the_reason_and_its_problems(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    seen: list[tuple[VersionView, list[str]]] = []

    def preflight(view: VersionView, kinds: list[str]) -> list[FieldError]:
        seen.append((view, kinds))
        return [
            FieldError("channels.wechat.short_title", "标题过长"),
            FieldError("channels.wechat", "封面缺失"),
        ]

    service.preflight = preflight
    outcome = service.approve(team.approver, uid, ["wechat"], exclude_reason="  先发其他渠道 ")
    (view, kinds) = seen[0]
    assert kinds == CHANNELS and view.version == 1
    assert view.index_number == f"AB1900010-{local(datetime.now(UTC)).year}-001"
    # what the channels checked is what was frozen (the first number of the year is the one
    # the check was shown)
    assert view.uid == uid
    assert view.content_hash == service.item_detail(uid)["versions"][0]["content_hash"]
    rows = by_channel(service, uid)
    assert rows["wechat"]["state"] == "excluded"
    assert rows["wechat"]["last_error"] == (
        "审批时排除 / excluded at approval: 理由 / reason: 先发其他渠道；预检问题 / problems: 标题过长；封面缺失"
    )
    assert {c: d["state"] for c, d in rows.items() if c != "wechat"} == dict.fromkeys(
        ["cityplatform", "cms", "rss"], "queued"
    )
    assert sorted(outcome.deliveries) == sorted(d["id"] for c, d in rows.items() if c != "wechat")
    assert rows["wechat"]["id"] not in outcome.channels
    (excluded,) = events(service, uid, "delivery.exclude")
    assert excluded["actor"] == "approver" and excluded["reason"] == "先发其他渠道"
    assert excluded["data"] == {
        "delivery": rows["wechat"]["id"],
        "channel": "wechat",
        "problems": ["标题过长", "封面缺失"],
    }
    # released while the problem stands: refused, naming it
    with pytest.raises(ValidationError) as exc:
        service.release_excluded(team.approver, rows["wechat"]["id"])
    assert [e.field for e in exc.value.errors] == ["channels.wechat.short_title", "channels.wechat"]
    assert by_channel(service, uid)["wechat"]["state"] == "excluded"
    # once the channel takes it, it goes
    seen.clear()
    service.preflight = lambda view, kinds: seen.append((view, kinds)) or []
    with pytest.raises(PermissionDeniedError):
        service.release_excluded(team.editor, rows["wechat"]["id"])
    released = service.release_excluded(team.approver2, rows["wechat"]["id"])
    assert seen[0][1] == ["wechat"] and seen[0][0].version == 1
    assert released.deliveries == [rows["wechat"]["id"]]
    assert released.channels == {rows["wechat"]["id"]: "wechat"}
    wechat = by_channel(service, uid)["wechat"]
    assert wechat["state"] == "queued" and wechat["last_error"] is None
    assert datetime.fromisoformat(wechat["next_attempt_at"]) >= datetime.fromisoformat(
        rows["wechat"]["next_attempt_at"]
    )
    (release,) = events(service, uid, "delivery.release")
    assert release["actor"] == "approver2"
    assert release["data"] == {"delivery": rows["wechat"]["id"], "channel": "wechat"}
    # only an excluded delivery is released
    with pytest.raises(TransitionError) as again:
        service.release_excluded(team.approver, rows["wechat"]["id"])
    assert (
        str(again.value)
        == "只有审批时排除的投递可以放行，当前为 queued / only an excluded delivery can be released"
    )
    assert again.value.current_state == "queued"
    with pytest.raises(NotFoundError, match="未找到投递 999999"):
        service.release_excluded(team.approver, 999999)


def test_an_excluded_channel_without_reason_or_problem_says_the_approver_left_it_out(
    service: Service, team: Team
) -> None:
    uid = to_awaiting(service, team, policy())
    service.preflight = lambda view, kinds: [FieldError("channels.cms.title", "栏目缺失")]
    service.approve(team.approver, uid, ["wechat", "cms"])  # no reason given
    rows = by_channel(service, uid)
    assert (
        rows["wechat"]["last_error"]
        == "审批时排除 / excluded at approval: 审批人选择不投递 / left out by the approver"
    )
    assert rows["cms"]["last_error"] == "审批时排除 / excluded at approval: 预检问题 / problems: 栏目缺失"
    excluded = {e["data"]["channel"]: e for e in events(service, uid, "delivery.exclude")}
    assert excluded["wechat"]["reason"] is None and excluded["wechat"]["data"]["problems"] == []
    service.preflight = None  # without a pre-flight, releasing checks nothing
    assert service.release_excluded(team.approver, rows["cms"]["id"]).deliveries == [rows["cms"]["id"]]
    assert by_channel(service, uid)["cms"]["state"] == "queued"


def test_an_exclusions_recorded_error_is_cut_at_2000_characters(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.preflight = lambda view, kinds: [FieldError("channels.cms", "问" * 2500)]
    service.approve(team.approver, uid, ["cms"])
    error = by_channel(service, uid)["cms"]["last_error"]
    assert error == ("审批时排除 / excluded at approval: 预检问题 / problems: " + "问" * 2500)[:2000]


def test_a_problem_of_a_channel_not_excluded_refuses_the_approval(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.preflight = lambda view, kinds: [
        FieldError("channels.wechat.short_title", "标题过长"),
        FieldError("channels.cms", "栏目缺失"),
    ]
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, uid, ["wechat"])
    assert refusal(exc) == [("channels.cms", "栏目缺失")]
    assert service.deliveries(uid) == [] and service.item_detail(uid)["state"] == "awaiting_approval"


def test_a_content_check_refuses_the_approval(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    checked: list[str] = []

    def content_check(session: Any, item: Any) -> list[FieldError]:
        checked.append(item.uid)
        return [FieldError("body_html", "含有错别字")]

    with pytest.raises(ValidationError) as exc, service.db.transaction() as s:
        workflow.approve(s, service.settings, team.approver, uid, content_check=content_check)
    assert checked == [uid]
    assert refusal(exc) == [("body_html", "含有错别字")]
    assert service.item_detail(uid)["state"] == "awaiting_approval"


def test_content_problems_join_the_channels_and_name_the_group_member(service: Service, team: Team) -> None:
    pol, interp = group_of_two(service, team)

    def content_check(session: Any, item: Any) -> list[FieldError]:
        stored = session.execute(select(Item.title).where(Item.uid == item.uid)).scalar_one()
        return [Problem("body_html", f"{stored}：含有错别字")] if item.uid == interp else []

    def preflight(view: VersionView, kinds: list[str]) -> list[FieldError]:
        return [FieldError("channels.cms", "栏目缺失")] if view.uid == interp else []

    with pytest.raises(ValidationError) as exc, service.db.transaction() as s:
        workflow.approve(
            s, service.settings, team.approver, pol, preflight=preflight, content_check=content_check
        )
    title = service.item_detail(interp)["title"]
    assert [
        (e.field, e.message, getattr(e, "item_uid", None), getattr(e, "item_title", None))
        for e in exc.value.errors
    ] == [
        (f"group[{interp}].channels.cms", "栏目缺失", interp, title),
        (f"group[{interp}].body_html", f"{title}：含有错别字", interp, title),
    ]
    assert service.item_detail(pol)["state"] == "awaiting_approval"


def group_of_two(service: Service, team: Team) -> tuple[str, str]:
    pol = to_awaiting(service, team, sample("policy-2019-plan", index_number=None))
    interp = to_awaiting(service, team, sample("interp-2019-plan"))
    return pol, interp


def test_a_group_members_problems_are_named_with_its_uid(service: Service, team: Team) -> None:
    pol, interp = group_of_two(service, team)
    with service.db.transaction() as s:
        item = workflow.get_item(s, interp)
        item.content = {**item.content, "classified": "秘密"}
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, pol)
    assert refusal(exc) == [
        (f"group[{interp}].classified", "未通过保密审查（须为“非涉密”）/ only 非涉密 items can be released")
    ]
    service.preflight = lambda view, kinds: (
        [FieldError("channels.cms", f"{view.uid} 栏目缺失")] if view.uid == interp else []
    )
    with service.db.transaction() as s:
        item = workflow.get_item(s, interp)
        item.content = {**item.content, "classified": "非涉密"}
    with pytest.raises(ValidationError) as exc2:
        service.approve(team.approver, pol)
    assert refusal(exc2) == [(f"group[{interp}].channels.cms", f"{interp} 栏目缺失")]
    # the clicked member's own problems carry no prefix
    with pytest.raises(ValidationError) as exc3:
        service.approve(team.approver, interp)
    assert refusal(exc3) == [("channels.cms", f"{interp} 栏目缺失")]


def test_a_release_group_approval_records_the_group(service: Service, team: Team) -> None:
    pol, interp = group_of_two(service, team)
    outcome = service.approve(team.approver, interp)
    # the policy first, whichever member was clicked
    assert [i.uid for i in outcome.items] == [pol, interp]
    # each item handed back holds what the approval wrote
    assert [(i.state, i.live_version, i.index_number) for i in outcome.items] == [
        ("published", 1, service.item_detail(uid)["index_number"]) for uid in (pol, interp)
    ]
    assert {e["data"]["group"] for uid in (pol, interp) for e in events(service, uid, "approve")} == {
        "g-2019-plan"
    }
    assert len(outcome.deliveries) == 8


@pytest.mark.parametrize("step", ["edit", "review"])
def test_each_group_member_is_checked_against_its_own_history(
    service: Service, team: Team, step: str
) -> None:
    pol = to_awaiting(service, team, sample("policy-2019-plan", index_number=None))
    interp = service.create_item(team.editor, sample("interp-2019-plan")).uid
    if step == "edit":  # the admin edited the other member, not the one clicked
        service.update_item(team.admin, interp, {"title": "管理员改过的解读"})
    service.submit(team.editor, interp)
    service.review(team.admin if step == "review" else team.reviewer, interp)
    title = service.item_detail(interp)["title"]
    with pytest.raises(PermissionDeniedError) as exc:
        service.approve(team.admin, pol)
    assert str(exc.value) == (
        f"不能批准自己起草或修改过的信息《{title}》（须由他人批准）/ the author or an editor of a version "
        f"never approves it (item {interp})"
        if step == "edit"
        else f"同一人不能既审查又批准信息《{title}》 / nobody both reviews and approves the same version "
        f"(item {interp})"
    )
    assert service.deliveries(pol) == [] and service.deliveries(interp) == []


def test_an_interpretation_waits_for_its_policys_publication_time(service: Service, team: Team) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    pol = to_awaiting(service, team, policy(publish_at=at.isoformat()))
    service.approve(team.approver, pol)  # approved, scheduled

    def interpretation(when: datetime) -> str:
        return to_awaiting(
            service,
            team,
            {
                "type": "interpretation",
                "title": "解读",
                "issue_date": "2026-11-20",
                "subject": "财政\\预算",
                "interprets": pol,
                "body_html": "<p>解读</p>",
                "publish_at": when.isoformat(),
            },
        )

    early = interpretation(at - timedelta(seconds=1))
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, early)
    assert refusal(exc) == [("publish_at", "解读的发布时间不能早于政策 / not before its policy")]
    same = interpretation(at)
    service.approve(team.approver, same)
    # its deliveries wait for the policy's on each channel
    pol_rows = {c: d["id"] for c, d in by_channel(service, pol).items()}
    with service.db.reader() as s:
        item_id = workflow.get_item(s, same).id
        after = dict(
            s.execute(select(Delivery.channel, Delivery.after_delivery_id).where(Delivery.item_id == item_id))
            .tuples()
            .all()
        )
    assert after == pol_rows


def test_an_interpretation_after_a_delivered_policy_waits_for_nothing(service: Service, team: Team) -> None:
    pol = to_awaiting(service, team, policy())
    service.approve(team.approver, pol)
    with service.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.channel == "rss").values(state="delivered"))
        s.execute(update(Delivery).where(Delivery.channel == "cms").values(state="failed"))
        s.execute(update(Delivery).where(Delivery.channel == "wechat").values(state="superseded"))
    interp = to_awaiting(
        service,
        team,
        {
            "type": "interpretation",
            "title": "解读",
            "issue_date": "2026-11-20",
            "subject": "财政\\预算",
            "interprets": pol,
            "body_html": "<p>解读</p>",
        },
    )
    service.approve(team.approver, interp)
    pol_rows = by_channel(service, pol)
    with service.db.reader() as s:
        item_id = workflow.get_item(s, interp).id
        after = dict(
            s.execute(select(Delivery.channel, Delivery.after_delivery_id).where(Delivery.item_id == item_id))
            .tuples()
            .all()
        )
    assert after == {"rss": None, "cms": None, "wechat": None, "cityplatform": pol_rows["cityplatform"]["id"]}


def test_an_interpretation_waits_for_its_policys_newest_delivery_on_each_channel(
    service: Service, team: Team
) -> None:
    pol = to_awaiting(service, team, policy())
    service.approve(team.approver, pol)
    service.update_item(team.editor, pol, {"description": "第二版。"})
    service.submit(team.editor, pol)
    service.review(team.reviewer, pol)
    service.approve(team.approver, pol)
    v1, v2 = by_channel(service, pol, 1), by_channel(service, pol, 2)
    # on rss the newest delivery is delivered: an older row still open there is not waited for
    with service.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.id == v1["rss"]["id"]).values(state="accepted"))
        s.execute(update(Delivery).where(Delivery.id == v2["rss"]["id"]).values(state="delivered"))
    interp = to_awaiting(service, team, interpretation_of(pol))
    service.approve(team.approver, interp)
    with service.db.reader() as s:
        item_id = workflow.get_item(s, interp).id
        after = dict(
            s.execute(select(Delivery.channel, Delivery.after_delivery_id).where(Delivery.item_id == item_id))
            .tuples()
            .all()
        )
    assert after == {"rss": None, **{c: v2[c]["id"] for c in ("cms", "wechat", "cityplatform")}}


def test_approval_etag_is_checked_against_what_the_approver_saw(service: Service, team: Team) -> None:
    pol, interp = group_of_two(service, team)
    with service.db.reader() as s:
        shown = workflow.approval_etag(s, workflow.get_item(s, pol))
        assert workflow.approval_etag(s, workflow.get_item(s, interp)) == shown
        assert len(shown) == 32
    # another member changed after the approver saw the group
    with service.db.transaction() as s:
        workflow.get_item(s, interp).title = "改过的标题"
    with pytest.raises(TransitionError) as exc:
        service.approve(team.approver, pol, seen=shown)
    assert str(exc.value) == (
        "您查看该信息后，它（或其发布组、将被废止的信息）已有变更；请刷新页面，重新审阅后再批准 / the item, its "
        "release group or what it abolishes changed after you saw it: reload and review it again"
    )
    assert exc.value.current_state == "awaiting_approval"
    with service.db.reader() as s:
        fresh = workflow.approval_etag(s, workflow.get_item(s, pol))
    assert fresh != shown
    # as an HTTP ETag, weak and quoted
    service.approve(team.approver, pol, seen=f' W/"{fresh}" ')
    assert service.item_detail(interp)["state"] == "published"


def test_approval_etag_covers_state_schedule_and_what_is_abolished(service: Service, team: Team) -> None:
    target = to_awaiting(service, team, sample("policy-2019-plan", release_group=None))
    notice = service.create_item(team.editor, sample("notice-abolish")).uid

    def etag(uid: str) -> str:
        with service.db.reader() as s:
            return workflow.approval_etag(s, workflow.get_item(s, uid))

    with service.db.reader() as s:
        targets = workflow.abolish_targets(s, workflow.get_item(s, notice))
    assert targets == [
        {
            "uid": target,
            "title": "上海市财政局2019年政务公开实施方案",
            "doc_number": None,
            "index_number": None,
            "validity": "有效",
        }
    ]
    shown = etag(notice)
    service.approve(team.approver, target)  # the target gets its index number
    assert etag(notice) != shown
    shown = etag(notice)
    service.update_item(team.editor, notice, {"publish_at": "2030-01-01T08:00:00+08:00"})
    assert etag(notice) != shown
    shown = etag(notice)
    service.submit(team.editor, notice)
    assert etag(notice) != shown
    with service.db.reader() as s:
        assert workflow.abolish_targets(s, workflow.get_item(s, target)) == []


def etag_of(service: Service, uid: str) -> str:
    with service.db.reader() as s:
        return workflow.approval_etag(s, workflow.get_item(s, uid))


def test_approval_etag_changes_with_the_content_alone_and_with_the_schedule_alone(
    service: Service, team: Team
) -> None:
    uid = to_awaiting(service, team, policy())
    shown = etag_of(service, uid)
    assert etag_of(service, uid) == shown  # the same item, the same digest
    with service.db.transaction() as s:  # the body changed, nothing else
        item = workflow.get_item(s, uid)
        item.content = {**item.content, "body_html": "<p>改过的正文。</p>"}
    assert etag_of(service, uid) != shown
    shown = etag_of(service, uid)
    set_columns(service, uid, publish_at=datetime(2030, 1, 1, tzinfo=UTC))  # the schedule alone
    assert etag_of(service, uid) != shown


def test_abolish_targets_show_each_targets_doc_number_and_index_number(service: Service, team: Team) -> None:
    target = published(service, team)
    notice = service.create_item(team.editor, sample("notice-abolish", abolishes=[target])).uid
    with service.db.reader() as s:
        targets = workflow.abolish_targets(s, workflow.get_item(s, notice))
    assert targets == [
        {
            "uid": target,
            "title": "关于进一步规范财政资金管理的通知",
            "doc_number": "沪财预〔2026〕12号",
            "index_number": service.item_detail(target)["index_number"],
            "validity": "有效",
        }
    ]


def test_a_notice_abolishes_each_valid_live_target_as_it_is_released(service: Service, team: Team) -> None:
    live = to_awaiting(service, team, policy(title="已发布的文件"))
    service.approve(team.approver, live)
    gone = to_awaiting(service, team, policy(title="已失效的文件"))
    service.approve(team.approver, gone)
    service.abolish(team.approver, gone, on=date(2020, 1, 1), validity="已失效")
    never = service.create_item(team.editor, policy(title="未发布的文件")).uid
    notice = to_awaiting(
        service, team, sample("notice-abolish", abolishes=[live, gone, never], doc_number="沪财法〔2026〕1号")
    )
    outcome = service.approve(team.approver, notice)
    item = service.item_detail(live)
    today = local(datetime.now(UTC)).date().isoformat()
    assert outcome.abolished == [
        {
            "uid": live,
            "title": "已发布的文件",
            "doc_number": "沪财预〔2026〕12号",
            "index_number": item["index_number"],
            "by": notice,
        }
    ]
    assert item["validity"] == "已废止" and item["validity_changed_on"] == today
    assert item["abolished_by"] == notice
    update_rows = by_channel(service, live, 2)
    assert {d["operation"] for d in update_rows.values()} == {"update"}
    own = by_channel(service, notice)
    assert sorted(outcome.deliveries) == sorted(d["id"] for d in [*own.values(), *update_rows.values()])
    assert {outcome.channels[d["id"]] for d in update_rows.values()} == set(CHANNELS)
    assert service.item_detail(gone)["validity"] == "已失效"
    assert service.item_detail(gone)["live_version"] == 2
    assert service.item_detail(never)["validity"] == "有效"
    (approved,) = events(service, notice, "approve")
    assert approved["data"]["abolishes"] == [live, gone, never]


def test_a_scheduled_notice_abolishes_on_its_publication_day(service: Service, team: Team) -> None:
    target = to_awaiting(service, team, sample("policy-2019-plan", release_group=None))
    service.approve(team.approver, target)
    at = datetime(2031, 3, 31, 17, 0, tzinfo=UTC)  # 1 April in Shanghai
    notice = to_awaiting(service, team, sample("notice-abolish", publish_at=at.isoformat()))
    outcome = service.approve(team.approver, notice)
    item = service.item_detail(target)
    assert item["validity_changed_on"] == "2031-04-01"
    assert outcome.deliveries == []  # the target's update goes out with the notice, not before
    due = {
        datetime.fromisoformat(d["next_attempt_at"]).replace(tzinfo=UTC)
        for d in by_channel(service, target, 2).values()
    }
    assert due == {at}


# -- abolition / 废止 ------------------------------------------------------------------------


def published(service: Service, team: Team, **overrides: Any) -> str:
    uid = to_awaiting(service, team, policy(**overrides))
    service.approve(team.approver, uid)
    return uid


def test_abolish_refuses_what_is_not_a_change_of_validity(service: Service, team: Team) -> None:
    uid = published(service, team)
    with pytest.raises(PermissionDeniedError):
        service.abolish(team.editor, uid, on=date(2026, 12, 1))
    with pytest.raises(ValidationError) as bad:
        service.abolish(team.approver, uid, on=date(2026, 12, 1), validity="作废")
    assert refusal(bad) == [("validity", "有效性应为 已废止、已失效 或 已修订 / invalid validity")]
    with pytest.raises(ValidationError) as valid:
        service.abolish(team.approver, uid, on=date(2026, 12, 1), validity="有效")
    assert refusal(valid) == [("validity", "废止操作不能设为“有效” / cannot abolish to 有效")]
    with pytest.raises(ValidationError) as by:
        service.abolish(team.approver, uid, on=date(2026, 12, 1), by="no-such-notice")
    assert refusal(by) == [("by", "关联的信息 no-such-notice 不存在 / no item no-such-notice")]
    with pytest.raises(NotFoundError):
        service.abolish(team.approver, "no-such-item", on=date(2026, 12, 1))
    assert service.item_detail(uid)["live_version"] == 1
    service.abolish(team.approver, uid, on=date(2026, 12, 1), validity="已修订")
    with pytest.raises(TransitionError) as again:
        service.abolish(team.approver, uid, on=date(2026, 12, 2))
    assert str(again.value) == "该信息已是“已修订” / already 已修订"
    assert again.value.current_state == "published"


def test_abolish_writes_a_version_an_update_per_channel_and_its_audit_event(
    service: Service, team: Team
) -> None:
    notice = service.create_item(team.editor, policy(title="废止通知", ref="notice-2026-1")).uid
    uid = published(service, team)
    first = service.deliveries(uid)
    outcome = service.abolish(team.approver2, uid, on=date(2026, 12, 1), by="notice-2026-1")
    item = service.item_detail(uid)
    assert item["validity"] == "已废止" and item["validity_changed_on"] == "2026-12-01"
    assert item["abolished_by"] == notice and item["content"]["validity"] == "已废止"
    assert item["live_version"] == 2 and item["state"] == "published"
    assert item["updated_at"] > max(v["created_at"] for v in item["versions"][:1])
    v2 = by_channel(service, uid, 2)
    assert {c: (d["operation"], d["state"], d["key"]) for c, d in v2.items()} == {
        c: ("update", "queued", f"{uid}.v2.{c}.update") for c in CHANNELS
    }
    # the never-sent publications are superseded by the update
    assert {d["state"] for d in service.deliveries(uid) if d["version"] == 1} == {"superseded"}
    assert len(first) == 4
    assert [i.uid for i in outcome.items] == [uid]
    assert sorted(outcome.deliveries) == sorted(d["id"] for d in v2.values())
    assert outcome.channels == {d["id"]: c for c, d in v2.items()}
    with service.db.reader() as s:
        version = workflow.get_item(s, uid).versions[1]
        content, digest, reason = version.content, version.content_hash, version.reason
    assert reason == "abolish"
    assert (content["validity"], content["validity_changed_on"], content["abolished_by"]) == (
        "已废止",
        "2026-12-01",
        notice,
    )
    (event,) = events(service, uid, "validity")
    assert event["actor"] == "approver2" and event["version_hash"] == digest
    assert event["data"] == {"validity": "已废止", "on": "2026-12-01", "by": notice, "version": 2}


def test_a_revision_of_an_abolished_item_keeps_its_change_of_validity(service: Service, team: Team) -> None:
    notice = service.create_item(team.editor, policy(title="废止通知", ref="notice-2026-1")).uid
    uid = published(service, team)
    service.abolish(team.approver, uid, on=date(2026, 12, 1), by="notice-2026-1")
    service.update_item(team.editor, uid, {"description": "废止后修订的摘要。"})
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    service.approve(team.approver, uid)
    with service.db.reader() as s:
        first, abolished, revised = (v.content for v in workflow.get_item(s, uid).versions)
    assert (revised["validity"], revised["validity_changed_on"], revised["abolished_by"]) == (
        "已废止",
        "2026-12-01",
        notice,
    )
    assert revised.keys() == first.keys() == abolished.keys()


def test_validity_changes_only_for_a_live_item_and_freezes_the_live_content(
    service: Service, team: Team
) -> None:
    draft = service.create_item(team.editor, policy()).uid
    with pytest.raises(TransitionError) as never:
        service.abolish(team.approver, draft, on=date(2026, 12, 1))
    assert (
        str(never.value) == "当前状态“草稿”不能变更有效性 / cannot change validity of an item in state draft"
    )
    assert never.value.current_state == "draft"
    # a revision in editing: the live version is what changes validity, not the draft
    uid = published(service, team, title="现行标题")
    service.update_item(team.editor, uid, {"title": "修订中的标题"})
    service.abolish(team.approver, uid, on=date(2026, 12, 1), validity="已失效")
    with service.db.reader() as s:
        content = workflow.get_item(s, uid).versions[1].content
    assert content["title"] == "现行标题" and content["validity"] == "已失效"
    assert service.item_detail(uid)["title"] == "修订中的标题"
    # a revision under review is not
    other = published(service, team, title="另一份文件")
    service.update_item(team.editor, other, {"title": "另一份文件（修订）"})
    service.submit(team.editor, other)
    with pytest.raises(TransitionError) as review:
        service.abolish(team.approver, other, on=date(2026, 12, 1))
    assert review.value.current_state == "in_review"
    # a scheduled approval is live already
    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = to_awaiting(service, team, policy(title="定时发布", publish_at=later.isoformat()))
    service.approve(team.approver, scheduled)
    outcome = service.abolish(team.approver, scheduled, on=date(2026, 12, 1))
    assert service.item_detail(scheduled)["live_version"] == 2 and len(outcome.deliveries) == 4


def test_an_update_supersedes_only_the_channels_it_writes(service: Service, team: Team) -> None:
    uid = published(service, team)
    with service.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.channel == "rss").values(lease_owner="worker-1"))
    narrowed = Service(service.db, service.settings.replace(channels={"rss": {"enabled": True}}))
    narrowed.abolish(team.approver, uid, on=date(2026, 12, 1))
    rows = {(d["channel"], d["version"]): d["state"] for d in service.deliveries(uid)}
    assert rows == {
        ("rss", 1): "superseded",
        ("rss", 2): "queued",
        ("cms", 1): "queued",
        ("wechat", 1): "queued",
        ("cityplatform", 1): "queued",
    }
    with service.db.reader() as s:
        owners = dict(
            s.execute(select(Delivery.channel, Delivery.lease_owner).where(Delivery.channel == "rss"))
            .tuples()
            .all()
        )
    assert owners == {"rss": None}


def test_an_update_supersedes_only_its_own_items_unsent_deliveries(service: Service, team: Team) -> None:
    uid = published(service, team, title="甲")
    other = published(service, team, title="乙")
    before = datetime.now(UTC)
    service.abolish(team.approver, uid, on=date(2026, 12, 1))
    assert {d["state"] for d in service.deliveries(uid) if d["version"] == 1} == {"superseded"}
    with service.db.reader() as s:  # superseded now, and stamped so
        stamps = s.execute(
            select(Delivery.updated_at).where(Delivery.id.in_([d["id"] for d in service.deliveries(uid)]))
        ).scalars()
        assert all(t.replace(tzinfo=t.tzinfo or UTC) >= before for t in stamps)
    assert {d["state"] for d in service.deliveries(other)} == {"queued"}
    # a scheduled approval pulled back into editing: its own deliveries only
    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = to_awaiting(service, team, policy(title="定时发布", publish_at=later.isoformat()))
    service.approve(team.approver, scheduled)
    service.update_item(team.editor, scheduled, {"description": "改。"})
    assert {d["state"] for d in service.deliveries(scheduled)} == {"superseded"}
    assert {d["state"] for d in service.deliveries(other)} == {"queued"}
    assert {d["state"] for d in service.deliveries(uid) if d["version"] == 2} == {"queued"}
    (edit,) = events(service, scheduled, "edit")
    assert edit["data"]["superseded"] == 4


# -- withdrawal ---------------------------------------------------------------------------


def test_withdraw_refusals(service: Service, team: Team) -> None:
    draft = service.create_item(team.editor, policy()).uid
    with pytest.raises(TransitionError) as never:
        service.withdraw(team.approver, draft, "撤回")
    assert str(never.value) == "当前状态“草稿”不能撤回 / cannot withdraw an item in state draft"
    uid = published(service, team)
    with pytest.raises(PermissionDeniedError):
        service.withdraw(team.editor, uid, "撤回")
    with pytest.raises(ValidationError) as blank:
        service.withdraw(team.approver, uid, "  \n ")
    assert refusal(blank) == [("reason", "撤回须说明理由 / a withdrawal needs a reason")]
    assert service.item_detail(uid)["state"] == "published"
    service.withdraw(team.approver, uid, "有误")
    with pytest.raises(TransitionError) as again:
        service.withdraw(team.approver, uid, "有误")
    assert str(again.value) == "当前状态“已撤回”不能撤回 / cannot withdraw an item in state withdrawn"


def test_withdraw_reaches_every_channel_that_had_or_would_get_it(service: Service, team: Team) -> None:
    narrowed = Service(
        service.db, service.settings.replace(channels={"rss": {"enabled": True}, "cms": {"enabled": True}})
    )
    uid = to_awaiting(narrowed, team, policy())
    narrowed.approve(team.approver, uid)
    # since then cms was switched off and wechat on
    now_routed = Service(
        service.db, service.settings.replace(channels={"rss": {"enabled": True}, "wechat": {"enabled": True}})
    )
    reason = "  " + "撤" * 2001 + " "
    before = datetime.now(UTC)
    outcome = now_routed.withdraw(team.approver2, uid, reason)
    item = service.item_detail(uid)
    assert item["state"] == "withdrawn" and item["live_version"] == 2
    assert item["withdraw_reason"] == "撤" * 2000
    rows = by_channel(service, uid, 2)
    assert {c: (d["operation"], d["key"]) for c, d in rows.items()} == {
        c: ("withdraw", f"{uid}.v2.{c}.withdraw") for c in ("cms", "rss", "wechat")
    }
    assert sorted(outcome.deliveries) == sorted(d["id"] for d in rows.values())
    assert outcome.channels == {d["id"]: c for c, d in rows.items()}
    assert [i.uid for i in outcome.items] == [uid]
    with service.db.reader() as s:
        it = workflow.get_item(s, uid)
        version = it.versions[1]
        withdrawn_at = it.withdrawn_at
        assert version.reason == "withdraw"
        assert version.content["withdrawn"] is True and version.content["withdraw_reason"] == "撤" * 2000
        digest = version.content_hash
    assert before <= withdrawn_at.replace(tzinfo=withdrawn_at.tzinfo or UTC) <= datetime.now(UTC)
    (event,) = events(service, uid, "withdraw")
    assert event["actor"] == "approver2" and event["reason"] == "撤" * 2000
    assert event["version_hash"] == digest
    assert event["data"] == {"channels": ["cms", "rss", "wechat"]}


def test_a_withdrawal_waits_for_the_delivery_still_in_flight_on_its_channel(
    service: Service, team: Team
) -> None:
    uid = published(service, team)
    service.update_item(team.editor, uid, {"description": "第二版。"})
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    service.approve(team.approver, uid)
    rows = service.deliveries(uid)
    v1 = {d["channel"]: d["id"] for d in rows if d["version"] == 1}
    v2 = {d["channel"]: d["id"] for d in rows if d["version"] == 2}
    with service.db.transaction() as s:  # rss: both sending; cms: v1 accepted; wechat: v2 queued
        s.execute(update(Delivery).where(Delivery.id.in_([v1["rss"], v2["rss"]])).values(state="sending"))
        s.execute(update(Delivery).where(Delivery.id == v1["cms"]).values(state="accepted"))
        s.execute(update(Delivery).where(Delivery.id == v1["wechat"]).values(state="failed"))
    service.withdraw(team.approver, uid, "撤回")
    with service.db.reader() as s:
        after = dict(
            s.execute(
                select(Delivery.channel, Delivery.after_delivery_id).where(Delivery.operation == "withdraw")
            )
            .tuples()
            .all()
        )
    assert after == {"rss": v2["rss"], "cms": v1["cms"], "wechat": None, "cityplatform": None}
    states = {(d["channel"], d["version"]): d["state"] for d in service.deliveries(uid)}
    assert states[("wechat", 2)] == "superseded" and states[("rss", 2)] == "sending"


def test_a_new_version_waits_only_for_its_own_items_delivery_in_flight(service: Service, team: Team) -> None:
    other = published(service, team, title="乙")
    uid = published(service, team, title="甲")
    with service.db.transaction() as s:  # the other item's rss delivery is being sent
        s.execute(
            update(Delivery)
            .where(Delivery.id == by_channel(service, other)["rss"]["id"])
            .values(state="sending")
        )
    service.abolish(team.approver, uid, on=date(2026, 12, 1))
    with service.db.reader() as s:
        item_id = workflow.get_item(s, uid).id
        after = dict(
            s.execute(
                select(Delivery.channel, Delivery.after_delivery_id).where(
                    Delivery.item_id == item_id, Delivery.operation == "update"
                )
            )
            .tuples()
            .all()
        )
    assert after == dict.fromkeys(CHANNELS)


def test_release_due_leaves_what_is_already_published(service: Service, team: Team) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    uid = to_awaiting(service, team, policy(publish_at=past.isoformat()))
    outcome = service.approve(team.approver, uid)
    assert service.item_detail(uid)["state"] == "published" and len(outcome.deliveries) == 4
    assert service.release_due().items == []
    assert events(service, uid, "release") == []


# -- submit, review, reject ----------------------------------------------------------------


def updated_at(service: Service, uid: str) -> str:
    return str(service.item_detail(uid)["updated_at"])


def test_submit_and_review_move_the_item_on_and_are_audited(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy()).uid
    with pytest.raises(PermissionDeniedError):
        service.submit(team.reviewer, uid)
    stamp = updated_at(service, uid)
    service.submit(team.editor2, uid)
    assert service.item_detail(uid)["state"] == "in_review" and updated_at(service, uid) > stamp
    with pytest.raises(TransitionError) as twice:
        service.submit(team.editor, uid)
    assert str(twice.value) == "当前状态“待保密审查”不能提交审查 / cannot submit an item in state in_review"
    with pytest.raises(PermissionDeniedError):
        service.review(team.approver, uid)
    stamp = updated_at(service, uid)
    service.review(team.reviewer, uid)
    assert service.item_detail(uid)["state"] == "awaiting_approval" and updated_at(service, uid) > stamp
    with pytest.raises(TransitionError) as again:
        service.review(team.reviewer, uid)
    assert (
        str(again.value) == "当前状态“待批准”不能通过审查 / cannot review an item in state awaiting_approval"
    )
    assert [(e["actor"], e["action"]) for e in service.audit_events(uid)] == [
        ("editor", "create"),
        ("editor2", "submit"),
        ("reviewer", "review"),
    ]
    with pytest.raises(NotFoundError, match="未找到信息 nope"):
        service.submit(team.editor, "nope")


def test_review_names_every_reason_an_item_can_never_be_released(service: Service, team: Team) -> None:
    item = service.create_item(
        team.editor, policy(disclosure="不予公开", scope="面向申请人", classified="秘密")
    )
    service.submit(team.editor, item.uid)
    with pytest.raises(ValidationError) as exc:
        service.review(team.reviewer, item.uid)
    assert refusal(exc) == [
        ("disclosure", "“不予公开”的信息不能发布 / items marked 不予公开 are never released"),
        ("scope", workflow._APPLICANT_ONLY),
        ("classified", "未通过保密审查（须为“非涉密”）/ only 非涉密 items can be released"),
    ]
    # an item without the key at all counts as cleared
    plain = service.create_item(team.editor, policy())
    with service.db.transaction() as s:
        row = workflow.get_item(s, plain.uid)
        row.content = {k: v for k, v in row.content.items() if k != "classified"}
    service.submit(team.editor, plain.uid)
    service.review(team.reviewer, plain.uid)


def test_who_may_reject_depends_on_the_stage(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy()).uid
    with pytest.raises(TransitionError) as draft:
        service.reject(team.approver, uid, "理由")
    assert str(draft.value) == "当前状态“草稿”不能退回 / cannot reject an item in state draft"
    service.submit(team.editor, uid)
    with pytest.raises(PermissionDeniedError):
        service.reject(team.editor, uid, "理由")
    service.reject(team.approver, uid, "  审查前退回  ")  # an approver may reject at review too
    item = service.item_detail(uid)
    assert item["state"] == "draft" and item["reject_reason"] == "审查前退回"
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    with pytest.raises(PermissionDeniedError):
        service.reject(team.reviewer, uid, "理由")
    stamp = updated_at(service, uid)
    service.reject(team.approver2, uid, "退" * 2001)
    item = service.item_detail(uid)
    assert item["reject_reason"] == "退" * 2000 and updated_at(service, uid) > stamp
    rejects = events(service, uid, "reject")
    assert [(e["actor"], e["reason"]) for e in rejects] == [
        ("approver", "审查前退回"),
        ("approver2", "退" * 2000),
    ]
    # an edit clears the reason
    service.update_item(team.editor, uid, {"description": "改正后。"})
    assert service.item_detail(uid)["reject_reason"] is None


def test_a_rejection_needs_a_reason(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    for blank in ("", "  \n ", None):
        with pytest.raises(ValidationError) as exc:
            service.reject(team.approver, uid, blank)  # type: ignore[arg-type]
        assert refusal(exc) == [("reason", "退回须说明理由 / a rejection needs a reason")]
    item = service.item_detail(uid)
    assert item["state"] == "awaiting_approval" and item["reject_reason"] is None
    assert events(service, uid, "reject") == []


# -- channel_of ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "channel"),
    [
        ("channels.wechat", "wechat"),
        ("channels.wechat.short_title", "wechat"),
        ("channels.webhook.crm.url", "webhook.crm"),
        ("channels.webhook.crm", "webhook.crm"),
        ("channels.webhook", "webhook"),
        ("channels.wechatx", None),
        ("wechat.short_title", None),
        ("document.wechat", None),  # "channels." is a prefix, not just the first nine characters
        ("short_title", None),
    ],
)
def test_channel_of_a_preflight_problem(field: str, channel: str | None) -> None:
    assert workflow.channel_of(field, ["wechat", "webhook", "webhook.crm"]) == channel


def interpretation_of(policy_uid: str, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "interpretation",
        "title": "解读",
        "issue_date": "2026-11-20",
        "subject": "财政\\预算",
        "interprets": policy_uid,
        "body_html": "<p>解读</p>",
        **overrides,
    }


NOT_BEFORE_POLICY = (
    "政策解读不能先于所解读的政策发布，请与政策一并批准 / an interpretation is never released before its "
    "policy: approve them together"
)


def test_an_interpretation_of_an_unreleased_or_unknown_policy_is_refused(
    service: Service, team: Team
) -> None:
    pol = service.create_item(team.editor, policy()).uid
    interp = to_awaiting(service, team, interpretation_of(pol))
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, interp)
    assert refusal(exc) == [("interprets", NOT_BEFORE_POLICY)]
    set_columns(service, interp, interprets_uid=None)  # no policy at all (the form requires one)
    with pytest.raises(ValidationError) as none:
        service.approve(team.approver, interp)
    assert refusal(none) == [("interprets", NOT_BEFORE_POLICY)]


def test_a_scheduled_interpretation_of_a_published_policy_goes_ahead(service: Service, team: Team) -> None:
    pol = published(service, team)  # released at once: no publish_at
    later = datetime.now(UTC) + timedelta(hours=1)
    interp = to_awaiting(service, team, interpretation_of(pol, publish_at=later.isoformat()))
    service.approve(team.approver, interp)
    assert service.item_detail(interp)["state"] == "approved"


# -- create, edit, import ------------------------------------------------------------------


def test_create_fills_the_agency_and_refuses_a_taken_ref(service: Service, team: Team) -> None:
    item = service.create_item(team.editor2, policy(ref="p-1", issuing_body=None, release_group="g-1"))
    detail = service.item_detail(item.uid)
    assert detail["issuing_body"] == service.settings.agency.name
    assert detail["release_group"] == "g-1" and detail["state"] == "draft" and detail["index_number"] is None
    assert detail["content"]["index_number"] is None and detail["content"]["abolishes"] == []
    with service.db.reader() as s:
        assert workflow.get_item(s, item.uid).created_by == team.editor2.id
    assert [(e["actor"], e["action"]) for e in service.audit_events(item.uid)] == [("editor2", "create")]
    with pytest.raises(ValidationError) as taken:
        service.create_item(team.editor, policy(ref="p-1"))
    assert refusal(taken) == [("ref", "引用标识 p-1 已存在 / ref already exists")]
    with pytest.raises(ValidationError) as numbered:
        service.create_item(team.editor, policy(index_number="AB1900010-2026-009"))
    assert refusal(numbered) == [
        (
            "index_number",
            "索取号由系统在批准时分配，不能填写或更改；历史索取号由管理员导入（publisher item import-index-no）/ "
            "the index number is assigned by the system; an admin imports legacy ones",
        )
    ]
    # a document entered as no longer valid (an old one, for the record) keeps its validity
    expired = service.create_item(team.editor, policy(validity="已失效"))
    assert service.item_detail(expired.uid)["validity"] == "已失效"
    with pytest.raises(ValidationError) as not_policy:
        service.create_item(
            team.editor,
            interpretation_of(service.create_item(team.editor, sample("notice-abolish", abolishes=[])).uid),
        )
    assert refusal(not_policy) == [
        ("interprets", "政策解读只能关联政策文件 / an interpretation interprets a policy")
    ]
    with pytest.raises(ValidationError) as unknown:
        service.create_item(team.editor, {**sample("notice-abolish", abolishes=["p-404"]), "ref": "n-2"})
    assert refusal(unknown) == [("abolishes", "关联的信息 p-404 不存在 / no item p-404")]
    with pytest.raises(ValidationError) as no_policy:
        service.create_item(team.editor, interpretation_of("p-404"))
    assert refusal(no_policy) == [("interprets", "关联的信息 p-404 不存在 / no item p-404")]
    # an issuing body given is kept
    own = service.create_item(team.editor, policy(issuing_body="上海市人民政府办公厅"))
    assert service.item_detail(own.uid)["issuing_body"] == "上海市人民政府办公厅"


def test_references_resolve_by_ref_to_uids(service: Service, team: Team) -> None:
    pol = service.create_item(team.editor, policy(ref="p-ref")).uid
    interp = service.create_item(team.editor, interpretation_of("p-ref")).uid
    notice = service.create_item(team.editor, sample("notice-abolish", abolishes=["p-ref", pol])).uid
    at = "2030-01-02T08:00:00+08:00"
    service.update_item(team.editor, notice, {"publish_at": at})
    detail = service.item_detail(interp)
    assert detail["content"]["interprets"] == pol
    with service.db.reader() as s:
        assert workflow.get_item(s, interp).interprets_uid == pol
        stored = workflow.get_item(s, notice).publish_at
    assert service.item_detail(notice)["content"]["abolishes"] == [pol, pol]
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == datetime(2030, 1, 2, tzinfo=UTC)


def test_what_an_edit_may_not_change(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy(ref="p-2")).uid
    for patch, field, message in [
        ({"type": "notice"}, "type", "创建后不可更改 / cannot be changed after creation"),
        ({"ref": "p-3"}, "ref", "创建后不可更改 / cannot be changed after creation"),
        (
            {"validity": "已废止"},
            "validity",
            "有效性须通过“废止/失效”操作变更 / use abolish to change validity",
        ),
        ({"index_number": "AB1900010-2026-009"}, "index_number", None),
    ]:
        with pytest.raises(ValidationError) as exc:
            service.update_item(team.editor, uid, patch)
        assert [e.field for e in exc.value.errors] == [field]
        if message:
            assert exc.value.errors[0].message == message
    # the same values are no change
    service.update_item(
        team.editor, uid, {"type": "policy", "ref": "p-2", "validity": "有效", "title": "新标题"}
    )
    assert service.item_detail(uid)["title"] == "新标题"
    service.submit(team.editor, uid)
    with pytest.raises(TransitionError) as exc2:
        service.update_item(team.editor, uid, {"title": "x"})
    assert str(exc2.value) == "当前状态“待保密审查”不能编辑 / cannot edit an item in state in_review"


def test_an_answer_to_an_applicant_keeps_its_scope(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy(scope="面向申请人")).uid
    with pytest.raises(ValidationError) as exc:
        service.update_item(team.editor, uid, {"scope": "面向社会"})
    assert refusal(exc) == [("scope", workflow._APPLICANT_ONLY)]
    service.update_item(team.editor, uid, {"title": "答复（更正）"})
    service.update_item(team.editor, uid, {"scope": "面向申请人", "title": "答复（再更正）"})
    public = service.create_item(team.editor, policy()).uid
    service.update_item(team.editor, public, {"scope": "面向申请人"})


def test_an_edit_is_audited_with_what_changed(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy()).uid
    long = "长" * 250
    service.update_item(team.editor2, uid, {"description": long, "keywords": ["预算", "资金"]})
    (edit,) = events(service, uid, "edit")
    assert edit["actor"] == "editor2"
    assert edit["data"] == {
        "fields": ["description", "keywords"],
        "changes": {
            "description": ["规范财政资金管理。", "长" * 200 + "…"],
            "keywords": ["[]", '["预算", "资金"]'],
        },
        "revision": False,
    }
    # a published item's edit is a revision; an approved one's unsent deliveries end
    later = datetime.now(UTC) + timedelta(hours=3)
    scheduled = to_awaiting(service, team, policy(title="定时", publish_at=later.isoformat()))
    service.approve(team.approver, scheduled)
    service.update_item(team.editor, scheduled, {"title": "定时（修改）"})
    (revision,) = events(service, scheduled, "edit")
    assert revision["data"]["revision"] is True and revision["data"]["superseded"] == 4
    # the number the approval gave is the item's, not an edit's change
    assert revision["data"]["fields"] == ["title"]
    assert revision["data"]["changes"]["title"] == ["定时", "定时（修改）"]
    assert {d["state"] for d in service.deliveries(scheduled)} == {"superseded"}
    assert service.item_detail(scheduled)["state"] == "draft"
    live = published(service, team, title="已发布")
    service.update_item(team.editor, live, {"title": "已发布（修订）"})
    (live_edit,) = events(service, live, "edit")
    assert live_edit["data"]["revision"] is True and "superseded" not in live_edit["data"]
    # an approved item with no channel routed has nothing to supersede, and says nothing of it
    silent = Service(service.db, service.settings.replace(channels={}))
    quiet = to_awaiting(silent, team, policy(title="无渠道", publish_at=later.isoformat()))
    silent.approve(team.approver, quiet)
    silent.update_item(team.editor, quiet, {"title": "无渠道（修改）"})
    (quiet_edit,) = events(service, quiet, "edit")
    assert "superseded" not in quiet_edit["data"] and service.deliveries(quiet) == []
    revised = service.item_detail(live)  # the draft of a revision keeps the item's 索取号
    assert revised["content"]["index_number"] == revised["index_number"] is not None
    assert live_edit["data"]["fields"] == ["title"]
    assert {d["state"] for d in service.deliveries(live)} == {"queued"}


def test_an_edit_logs_a_field_the_stored_content_lacked_and_refills_the_agency(
    service: Service, team: Team
) -> None:
    uid = service.create_item(team.editor, policy()).uid
    with service.db.transaction() as s:  # an item stored without the field
        row = workflow.get_item(s, uid)
        row.content = {k: v for k, v in row.content.items() if k != "description"}
    service.update_item(team.editor2, uid, {"description": "新摘要。", "issuing_body": None})
    (edit,) = events(service, uid, "edit")
    assert edit["data"]["changes"] == {"description": [None, "新摘要。"]}
    assert service.item_detail(uid)["content"]["issuing_body"] == service.settings.agency.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("短", "短"),
        ("长" * 200, "长" * 200),
        ("长" * 201, "长" * 200 + "…"),
        (["a"], '["a"]'),
        ({"b": 1, "a": "é"}, '{"a": "é", "b": 1}'),
        (["长" * 300], '["' + "长" * 198 + "…"),
        (["长" * 196], '["' + "长" * 196 + '"]'),  # exactly 200 characters: kept whole
        (7, 7),
        (None, None),
    ],
)
def test_an_audited_value_is_shortened_to_200_characters(value: Any, expected: Any) -> None:
    assert workflow._short(value) == expected


def test_import_index_number_rules(service: Service, team: Team) -> None:
    uid = service.create_item(team.editor, policy()).uid
    year = local(datetime.now(UTC)).year
    with pytest.raises(PermissionDeniedError):
        service.import_index_number(team.editor, uid, "AB1900010-2019-146")
    for bad in ("AB1900010-2019-14", "XX1900010-2019-146", "AB1900010-2019-146x", "", None):
        with pytest.raises(ValidationError) as exc:
            service.import_index_number(team.admin, uid, bad)  # type: ignore[arg-type]
        assert refusal(exc) == [
            (
                "index_number",
                "索取号格式应为 AB1900010-年份-序号（如 AB1900010-2019-146）/ expected AB1900010-YYYY-serial",
            )
        ]
    for year_bad in (1989, year + 1):
        with pytest.raises(ValidationError) as implausible:
            service.import_index_number(team.admin, uid, f"AB1900010-{year_bad}-146")
        assert refusal(implausible) == [
            ("index_number", f"索取号年份 {year_bad} 不合理 / implausible year {year_bad}")
        ]
    other = service.create_item(team.editor, policy(title="另一份")).uid
    service.import_index_number(team.admin, other, " AB1900010-1990-00001 ")
    with pytest.raises(ValidationError) as used:
        service.import_index_number(team.admin, uid, "AB1900010-1990-00001")
    assert refusal(used) == [("index_number", "索取号已被使用 / index number already in use")]
    service.import_index_number(team.admin, uid, f"AB1900010-{year}-146")
    with pytest.raises(ValidationError) as has:
        service.import_index_number(team.admin, uid, f"AB1900010-{year}-147")
    assert refusal(has) == [("index_number", "该信息已有索取号，不可更改 / the item has its number already")]
    detail = service.item_detail(other)
    assert detail["index_number"] == "AB1900010-1990-00001"
    assert detail["content"]["index_number"] == "AB1900010-1990-00001"
    (event,) = events(service, other, "import-index-no")
    assert event["actor"] == "admin" and event["data"] == {"index_number": "AB1900010-1990-00001"}
    # the counter moved past the imported number of this year
    fresh = to_awaiting(service, team, policy(title="新的"))
    service.approve(team.approver, fresh)
    assert service.item_detail(fresh)["index_number"] == f"AB1900010-{year}-147"
