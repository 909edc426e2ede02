"""Maker-checker as a table (publisher/editorial/workflow._check_four_eyes): who may approve a
version, from the item's audit history. The service-level tests (test_workflow.py,
tests/security/test_maker_checker.py) prove it is applied to every member of a release
group; these pin the rule itself, one history per case (issue 22)."""

from __future__ import annotations

import pytest

from publisher.domain.actions import AuditAction
from publisher.domain.errors import PermissionDeniedError
from publisher.domain.permissions import Role
from publisher.editorial.auth import Actor
from publisher.editorial.workflow import History, _check_four_eyes
from publisher.store.models import Item

CREATE, EDIT, IMPORT, REVIEW, APPROVE = (
    AuditAction.CREATE,
    AuditAction.EDIT,
    AuditAction.IMPORT_INDEX_NO,
    AuditAction.REVIEW,
    AuditAction.APPROVE,
)
APPROVER = Actor(7, "approver", Role.APPROVER)
ITEM = Item(uid="01item", title="关于规范财政资金管理的通知", created_by=1)
MAKER = "不能批准自己起草或修改过的信息《关于规范财政资金管理的通知》（须由他人批准）/ the author or an editor of a version never approves it (item 01item)"
CHECKER = "同一人不能既审查又批准信息《关于规范财政资金管理的通知》 / nobody both reviews and approves the same version (item 01item)"


@pytest.mark.parametrize(
    ("history", "refusal"),
    [
        ([("editor", CREATE), ("reviewer", REVIEW)], None),
        ([("approver", CREATE), ("reviewer", REVIEW)], MAKER),  # by name, whatever created_by says
        ([("editor", CREATE), ("approver", EDIT), ("reviewer", REVIEW)], MAKER),
        ([("editor", CREATE), ("approver", IMPORT), ("reviewer", REVIEW)], MAKER),
        ([("editor", CREATE), ("approver", REVIEW)], CHECKER),
        # an approval closes a version: what came before it does not count for the next
        (
            [
                ("approver", EDIT),
                ("reviewer", REVIEW),
                ("boss", APPROVE),
                ("editor", EDIT),
                ("reviewer", REVIEW),
            ],
            None,
        ),
        (
            [
                ("editor", CREATE),
                ("approver", REVIEW),
                ("boss", APPROVE),
                ("editor", EDIT),
                ("reviewer", REVIEW),
            ],
            None,
        ),
        # but what comes after it does
        ([("editor", CREATE), ("boss", APPROVE), ("approver", EDIT)], MAKER),
        ([("editor", CREATE), ("boss", APPROVE), ("approver", REVIEW)], CHECKER),
        # making it outranks reviewing it in the message
        ([("approver", EDIT), ("approver", REVIEW)], MAKER),
    ],
)
def test_who_may_approve_a_version(history: History, refusal: str | None) -> None:
    if refusal is None:
        _check_four_eyes(APPROVER, ITEM, history)
        return
    with pytest.raises(PermissionDeniedError) as caught:
        _check_four_eyes(APPROVER, ITEM, history)
    assert str(caught.value) == refusal


def test_the_author_by_id_never_approves_even_without_history() -> None:
    author = Actor(1, "renamed", Role.APPROVER)
    with pytest.raises(PermissionDeniedError) as caught:
        _check_four_eyes(author, ITEM, [])
    assert str(caught.value) == MAKER
    _check_four_eyes(APPROVER, ITEM, [])
