from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from publisher.domain.errors import FieldError, PermissionDeniedError, TransitionError, ValidationError
from publisher.domain.item import DeliveryState
from publisher.editorial.readmodels import group_members
from publisher.editorial.service import Service
from publisher.store.models import AuditEvent, Delivery, Item, ItemVersion
from tests.conftest import Team
from tests.samples import legacy_index_number, policy, sample


def to_awaiting(service: Service, team: Team, data: dict, author=None) -> str:
    item = service.create_item(author or team.editor, data)
    service.submit(author or team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    return item.uid


def counts(service: Service) -> dict[str, int]:
    with service.db.reader() as s:
        return {
            "items": s.execute(select(func.count(Item.id))).scalar_one(),
            "versions": s.execute(select(func.count(ItemVersion.id))).scalar_one(),
            "deliveries": s.execute(select(func.count(Delivery.id))).scalar_one(),
            "audit": s.execute(select(func.count(AuditEvent.id))).scalar_one(),
        }


def test_full_happy_path_writes_version_deliveries_and_audit(service: Service, team: Team) -> None:
    # given an item awaiting approval
    uid = to_awaiting(service, team, policy())
    # when the approver approves it
    outcome = service.approve(team.approver, uid)
    # then it is published with one frozen version, an index number and one delivery per channel
    item = service.item_detail(uid)
    assert item["state"] == "published"
    assert item["index_number"].startswith("AB1900010-")
    assert item["index_number"].endswith("-001")
    assert [v["number"] for v in item["versions"]] == [1]
    deliveries = service.deliveries(uid)
    assert sorted(d["channel"] for d in deliveries) == ["cityplatform", "cms", "rss", "wechat"]
    assert {d["operation"] for d in deliveries} == {"publish"}
    assert {d["state"] for d in deliveries} == {"queued"}
    assert sorted(outcome.deliveries) == sorted(d["id"] for d in deliveries)
    actions = [e["action"] for e in service.audit_events(uid)]
    assert actions == ["create", "submit", "review", "approve"]


@pytest.mark.parametrize(
    "action,state",
    [("submit", "in_review"), ("review", "draft"), ("approve", "draft"), ("approve", "in_review")],
)
def test_wrong_transition_is_409_naming_the_state(
    service: Service, team: Team, action: str, state: str
) -> None:
    # given an item in `state`
    item = service.create_item(team.editor, policy())
    if state == "in_review":
        service.submit(team.editor, item.uid)
    actor = {"submit": team.editor, "review": team.reviewer, "approve": team.approver}[action]
    # when the action is not allowed there, then 409 names the current state
    with pytest.raises(TransitionError) as exc:
        getattr(service, action)(actor, item.uid)
    assert exc.value.current_state == state
    assert state in str(exc.value)
    assert service.item_detail(item.uid)["state"] == state


def test_roles_are_enforced(service: Service, team: Team) -> None:
    with pytest.raises(PermissionDeniedError):
        service.create_item(team.reviewer, policy())
    item = service.create_item(team.editor, policy())
    service.submit(team.editor, item.uid)
    with pytest.raises(PermissionDeniedError):
        service.review(team.editor, item.uid)
    service.review(team.reviewer, item.uid)
    with pytest.raises(PermissionDeniedError):
        service.approve(team.reviewer, item.uid)
    with pytest.raises(PermissionDeniedError):
        service.approve(team.ops, item.uid)


def test_maker_checker_author_never_approves_own_item(service: Service, team: Team) -> None:
    # an admin may draft and approve in general, but never their own item
    uid = to_awaiting(service, team, policy(), author=team.admin)
    before = counts(service)
    with pytest.raises(PermissionDeniedError, match="自己"):
        service.approve(team.admin, uid)
    assert counts(service) == before
    service.approve(team.approver, uid)
    assert service.item_detail(uid)["state"] == "published"


def test_reject_needs_reason_and_returns_to_draft(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    with pytest.raises(ValidationError) as exc:
        service.reject(team.approver, uid, "  ")
    assert exc.value.errors[0].field == "reason"
    service.reject(team.approver, uid, "文号有误")
    item = service.item_detail(uid)
    assert item["state"] == "draft" and item["reject_reason"] == "文号有误"
    # rejection from review by the reviewer too
    service.submit(team.editor, uid)
    service.reject(team.reviewer, uid, "涉及敏感信息")
    assert service.item_detail(uid)["state"] == "draft"
    assert [e["reason"] for e in service.audit_events(uid) if e["action"] == "reject"] == [
        "文号有误",
        "涉及敏感信息",
    ]


@pytest.mark.parametrize(
    "overrides,field",
    [({"disclosure": "不予公开"}, "disclosure"), ({"classified": "秘密"}, "classified")],
)
def test_never_released_unless_cleared_and_disclosable(
    service: Service, team: Team, overrides: dict, field: str
) -> None:
    item = service.create_item(team.editor, policy(**overrides))
    service.submit(team.editor, item.uid)
    with pytest.raises(ValidationError) as exc:
        service.review(team.reviewer, item.uid)
    assert exc.value.errors[0].field == field
    assert service.item_detail(item.uid)["state"] == "in_review"


def test_release_group_is_approved_atomically_and_ordered(service: Service, team: Team) -> None:
    pol = service.create_item(team.editor, sample("policy-2019-plan", index_number=None))
    interp = service.create_item(team.editor, sample("interp-2019-plan"))
    service.submit(team.editor, pol.uid)
    service.review(team.reviewer, pol.uid)
    # the interpretation is still a draft: approving the policy alone is refused, nothing written
    before = counts(service)
    with pytest.raises(TransitionError) as refused:
        service.approve(team.approver, pol.uid)
    assert counts(service) == before
    # the refusal names the member not ready and its state; the clicked item's state is given
    assert str(refused.value).startswith(
        f"同一发布组的信息须一并批准，以下尚未就绪：《{interp.title}》(草稿) / "
    )
    assert refused.value.current_state == "awaiting_approval"
    service.submit(team.editor, interp.uid)
    service.review(team.reviewer, interp.uid)
    # approving either member approves both
    service.approve(team.approver, interp.uid)
    assert service.item_detail(pol.uid)["state"] == "published"
    assert service.item_detail(interp.uid)["state"] == "published"
    # each interpretation delivery waits for the policy's delivery on the same channel
    pol_d = {d["channel"]: d["id"] for d in service.deliveries(pol.uid)}
    with service.db.reader() as s:
        rows = s.execute(select(Delivery).where(Delivery.item_id == interp.id)).scalars().all()
        assert {d.channel: d.after_delivery_id for d in rows} == pol_d


def test_a_release_groups_members_are_listed_in_the_order_they_were_created(
    service: Service, team: Team
) -> None:
    first, second = (
        service.create_item(team.editor, policy(title=t, release_group="g-order")) for t in "甲乙"
    )
    third = to_awaiting(service, team, policy(title="丙", release_group="g-order"))
    # the first member is edited after the others were written: PostgreSQL keeps the new row
    # version after theirs, so an unordered read would list it last
    service.update_item(team.editor, first.uid, {"title": "甲（改）"})
    with pytest.raises(TransitionError) as refused:
        service.approve(team.approver, third)
    assert "以下尚未就绪：《甲（改）》(草稿)；《乙》(草稿) /" in str(refused.value)
    assert [m["uid"] for m in group_members(service, "g-order")] == [first.uid, second.uid, third]


def test_interpretation_never_released_before_its_policy(service: Service, team: Team) -> None:
    pol = service.create_item(team.editor, policy())
    interp_uid = to_awaiting(
        service,
        team,
        {
            "type": "interpretation",
            "title": "解读",
            "issue_date": "2026-11-20",
            "subject": "财政\\预算",
            "interprets": pol.uid,
            "body_html": "<p>解读</p>",
        },
    )
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, interp_uid)
    assert exc.value.errors[0].field == "interprets"
    # once the policy is out, the interpretation can follow
    service.submit(team.editor, pol.uid)
    service.review(team.reviewer, pol.uid)
    service.approve(team.approver, pol.uid)
    service.approve(team.approver, interp_uid)
    assert service.item_detail(interp_uid)["state"] == "published"


def test_edit_after_approval_makes_a_new_version_and_update_deliveries(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    first = service.item_detail(uid)
    service.update_item(team.editor, uid, {"title": "关于进一步规范财政资金管理的通知（修订）"})
    assert service.item_detail(uid)["state"] == "draft"
    assert service.item_detail(uid)["live_version"] == 1
    service.submit(team.editor, uid)
    service.review(team.reviewer, uid)
    service.approve(team.approver2, uid)
    item = service.item_detail(uid)
    assert [v["number"] for v in item["versions"]] == [1, 2]
    assert item["versions"][0]["content_hash"] != item["versions"][1]["content_hash"]
    assert item["index_number"] == first["index_number"]  # never changes
    ops = [(d["version"], d["operation"], d["state"]) for d in service.deliveries(uid)]
    # the never-sent v1 publishes were superseded by the v2 updates
    assert sorted(set(ops)) == [(1, "publish", "superseded"), (2, "update", "queued")]


def test_versions_are_immutable_rows(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    with service.db.reader() as s:
        v = s.execute(select(ItemVersion)).scalar_one()
        stored = v.content_hash
    from publisher.editorial.views import content_hash

    assert content_hash(v.content) == stored


def test_abolish_changes_validity_with_new_version(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    service.abolish(team.approver, uid, on=date(2026, 12, 1))
    item = service.item_detail(uid)
    assert item["validity"] == "已废止" and item["validity_changed_on"] == "2026-12-01"
    assert [v["reason"] for v in item["versions"]] == ["publish", "abolish"]
    assert {d["operation"] for d in service.deliveries(uid) if d["state"] == "queued"} == {"update"}
    with pytest.raises(TransitionError):
        service.abolish(team.approver, uid, on=date(2026, 12, 2))


def test_abolishing_notice_abolishes_its_targets(service: Service, team: Team) -> None:
    pol_uid = to_awaiting(service, team, sample("policy-2019-plan", release_group=None))
    service.approve(team.approver, pol_uid)
    notice_uid = to_awaiting(service, team, sample("notice-abolish"))
    service.approve(team.approver, notice_uid)
    pol = service.item_detail(pol_uid)
    assert pol["validity"] == "已废止" and pol["abolished_by"] == notice_uid


def test_withdraw_supersedes_unsent_and_queues_withdrawals(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    with pytest.raises(ValidationError):
        service.withdraw(team.approver, uid, "")
    service.withdraw(team.approver, uid, "内容有误，撤回")
    item = service.item_detail(uid)
    assert item["state"] == "withdrawn" and item["delivery_status"] == "withdrawn"
    states = {(d["operation"], d["state"]) for d in service.deliveries(uid)}
    assert states == {("publish", "superseded"), ("withdraw", "queued")}
    with pytest.raises(TransitionError):
        service.withdraw(team.approver, uid, "again")
    with pytest.raises(TransitionError):
        service.update_item(team.editor, uid, {"title": "x"})


def test_publish_at_schedules_release(service: Service, team: Team) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    uid = to_awaiting(service, team, policy(publish_at=later.isoformat()))
    outcome = service.approve(team.approver, uid)
    assert outcome.deliveries == []  # nothing due yet
    assert service.item_detail(uid)["state"] == "approved"
    with service.db.transaction() as s:
        s.execute(text("UPDATE items SET publish_at = :t"), {"t": datetime(2000, 1, 1)})
    released = service.release_due()
    assert [i.uid for i in released.items] == [uid]
    assert service.item_detail(uid)["state"] == "published"


def test_preflight_problem_blocks_approval_and_writes_nothing(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.preflight = lambda view, kinds: [FieldError("short_title", "标题超过32字")]
    before = counts(service)
    with pytest.raises(ValidationError) as exc:
        service.approve(team.approver, uid)
    assert exc.value.errors[0].field == "short_title"
    assert counts(service) == before
    assert service.item_detail(uid)["state"] == "awaiting_approval"


def test_deliveries_unique_per_version_channel_operation(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, policy())
    service.approve(team.approver, uid)
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), service.db.transaction() as s:
        d = s.execute(select(Delivery).limit(1)).scalar_one()
        s.add(
            Delivery(
                item_id=d.item_id,
                version_id=d.version_id,
                channel=d.channel,
                operation=d.operation,
                state=DeliveryState.QUEUED.value,
                key=d.key + "x",
                attempts=0,
                next_attempt_at=d.next_attempt_at,
                created_at=d.created_at,
                updated_at=d.updated_at,
            )
        )


def test_sanitised_on_input(service: Service, team: Team) -> None:
    item = service.create_item(team.editor, sample("notice-abolish", abolishes=[]))
    body = service.item_detail(item.uid)["content"]["body_html"]
    assert "<script" not in body and "alert" not in body
    assert service.item_detail(item.uid)["content"]["doc_number"] == "沪财法〔2019〕35号"


def test_bad_input_names_the_field_and_writes_nothing(service: Service, team: Team) -> None:
    before = counts(service)
    with pytest.raises(ValidationError) as exc:
        service.create_item(team.editor, policy(doc_number="沪财预2019-12", issue_date="2026-13-01"))
    fields = {e.field for e in exc.value.errors}
    assert {"doc_number", "issue_date"} <= fields
    assert counts(service) == before


def test_imported_index_number_is_kept_and_never_reissued(service: Service, team: Team) -> None:
    uid = to_awaiting(service, team, sample("policy-2019-plan", release_group=None))
    service.import_index_number(team.admin, uid, legacy_index_number("policy-2019-plan"))
    other = to_awaiting(service, team, policy(issue_date="2019-05-01"))
    with service.db.transaction() as s:  # pretend both are released in 2019
        s.execute(text("UPDATE items SET publish_at = :t"), {"t": datetime(2019, 6, 1)})
    service.approve(team.approver, uid)
    service.approve(team.approver, other)
    assert service.item_detail(uid)["index_number"] == "AB1900010-2019-146"
    assert service.item_detail(other)["index_number"] == "AB1900010-2019-147"
