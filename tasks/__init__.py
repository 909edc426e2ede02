"""The Celery side of publisher: the app, thin tasks that call the engine, and the executor
the web process uses to hand deliveries to the workers.

Kept import-light on purpose: importing `tasks` loads neither Celery nor the settings.
`celery -A tasks worker` (and `celery -A tasks beat`) find the app through the lazy
`tasks.celery` attribute below; `tasks.app:app` names the same object explicitly.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Only `celery`: Celery's app finder looks at `tasks.app` first, which once imported
    # is the submodule, and then falls back to `tasks.celery`.
    if name == "celery":
        from tasks.app import app

        return app
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
