"""The approval's Core row of an item stays the ORM item's twin."""

from __future__ import annotations

import dataclasses
import typing

from publisher.store.models import Item, ItemRow


def test_item_row_has_exactly_the_item_columns_with_their_types() -> None:
    # ItemRow is read with `select(*Item.__table__.c)` and built with ItemRow(**row): a
    # column added to Item without its field here would break every approval at run time.
    fields = {f.name: f.type for f in dataclasses.fields(ItemRow)}
    assert list(fields) == [c.key for c in Item.__table__.c]
    hints = typing.get_type_hints(Item)
    row_hints = typing.get_type_hints(ItemRow)
    for name in fields:
        assert row_hints[name] == typing.get_args(hints[name])[0], name
