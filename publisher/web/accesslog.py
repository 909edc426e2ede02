"""The access log never shows a callback's query string.

A provider's push carries its signature, timestamp and nonce in the query (WeChat's
`signature`, `msg_signature`, `openid`): written to a log, they would hand whoever reads the
log what a replay needs, and a follower's openid besides. uvicorn's access logger writes the
path with the query; this filter cuts the query off every `/callbacks/…` line before any
handler formats it. Installed by `create_app`, so every server that runs the app has it.
"""

from __future__ import annotations

import logging

CALLBACKS = "/callbacks/"
ACCESS_LOGGER = "uvicorn.access"


class CallbackQueryFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if path.startswith(CALLBACKS) and "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?[…]", *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, CallbackQueryFilter) for f in logger.filters):
        logger.addFilter(CallbackQueryFilter())
