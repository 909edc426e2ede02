"""A tiny in-process event bus: the ledger announces what ops must hear about (a delivery
failed for good, a breaker opened, credentials rejected); alerting and metrics subscribe.
Handlers run after commit and must not raise into the caller."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]
_handlers: list[Handler] = []
_lock = threading.Lock()


def subscribe(handler: Handler) -> None:
    with _lock:
        _handlers.append(handler)


def unsubscribe(handler: Handler) -> None:
    with _lock:
        if handler in _handlers:
            _handlers.remove(handler)


def emit(event: str, data: dict[str, Any]) -> None:
    with _lock:
        handlers = list(_handlers)
    for handler in handlers:
        try:
            handler(event, data)
        except Exception:  # an alert target being down must never break delivery
            log.exception("event handler failed for %s", event)
