"""What adapters read: a version's validity, disclosure and scope are the enums, never loose strings."""

from __future__ import annotations

import pytest

from publisher.domain.item import Disclosure, Scope, Validity
from tests.factories import make_version


def test_stored_strings_become_the_enums() -> None:
    v = make_version(validity="已废止", disclosure="依申请公开", scope="面向申请人")
    assert v.validity is Validity.ABOLISHED
    assert v.disclosure is Disclosure.ON_REQUEST
    assert v.scope is Scope.APPLICANT


@pytest.mark.parametrize("field", ["validity", "disclosure", "scope"])
def test_a_value_outside_the_enum_is_refused_when_the_view_is_built(field: str) -> None:
    with pytest.raises(ValueError):
        make_version(**{field: "作废"})


def test_a_notice_names_the_change_without_the_aspect_marker() -> None:
    assert [v.change for v in Validity] == ["有效", "废止", "失效", "修订"]
