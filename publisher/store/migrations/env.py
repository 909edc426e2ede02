"""Alembic environment: the URL comes from the caller (`publisher migrate`) or settings."""

from __future__ import annotations

from alembic import context

from publisher.settings import load_settings
from publisher.store.db import make_engine
from publisher.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().db_url


def run() -> None:
    engine = make_engine(url, immediate=False)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
