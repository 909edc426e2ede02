"""A runtime and a live server for page tests (the compliance pages, the public site) on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from publisher.runtime import Runtime
from publisher.web.app import create_app
from tests.publisher.web.live import serve

__all__ = ["base", "runtime"]  # the fixtures, for `import *`


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(executor=False)


@pytest.fixture
def base(runtime: Runtime) -> Iterator[str]:
    with serve(create_app(runtime)) as url:
        yield url
