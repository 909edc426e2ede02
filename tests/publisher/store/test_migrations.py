"""Migrations from an empty database create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from publisher.store.db import make_engine
from publisher.store.migrate import alembic_config, current_revision, upgrade
from publisher.store.models import Base


def test_upgrade_from_empty_creates_every_table(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    head = ScriptDirectory.from_config(alembic_config(empty_url)).get_current_head()
    assert current_revision(empty_url) == head
    engine = make_engine(empty_url, immediate=False)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    # SQLite's FTS5 search table and its shadow tables (migration 0016) are not models
    assert {t for t in tables if not t.startswith(FTS)} == set(Base.metadata.tables) | {"alembic_version"}
    assert any(t.startswith(FTS) for t in tables) == empty_url.startswith("sqlite")


FTS = "items_search"


def _for_dialect(dialect: str) -> Callable[..., bool]:
    """Leave out the model's objects made for another dialect only (`.ddl_if(dialect=...)`:
    the trigram indexes exist on PostgreSQL alone), which autogenerate does not know of."""

    def include(obj: object, name: str | None, kind: str, _reflected: bool, _compare_to: object) -> bool:
        if kind == "table" and name and name.startswith(FTS):
            return False
        only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        return only is None or only == dialect

    return include


def test_migrations_match_the_models(empty_url: str) -> None:
    # `alembic check`: autogenerate finds nothing to add, drop or alter
    upgrade(empty_url)
    engine = make_engine(empty_url, immediate=False)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _for_dialect(conn.dialect.name)}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_twice_is_harmless(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    assert current_revision(empty_url) is not None
