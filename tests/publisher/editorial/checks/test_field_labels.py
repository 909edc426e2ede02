"""Every field an editor can send has a Chinese name: the problems of the checks and the audit
diffs name fields by it, and an unknown field shows as its raw key (`index_number`)."""

from __future__ import annotations

from publisher.domain.item import ItemIn
from publisher.editorial.checks.fields import LABELS, label_of


def test_every_item_field_has_a_label() -> None:
    assert [f for f in ItemIn.model_fields if f not in LABELS] == []


def test_nested_paths_read_as_the_editor_sees_them() -> None:
    assert label_of("index_number") == "索取号"
    assert label_of("attachments.1.title") == "附件2名称"
    assert label_of("keywords.0") == "关键词1"
    assert label_of("changes.2.new_standard") == "变动项目第3行新标准"
    assert label_of("procurement.supplier") == "中标供应商"
    assert label_of("no_such_field") == "no_such_field"
