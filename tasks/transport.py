"""kombu's Redis transport with one fix: a channel whose broker connection is gone raises
a connection error, as the caller expects, instead of an AttributeError.

Why: with Celery 5.7 / kombu 5.7, when Redis goes away under a worker, the consumer drops
its connection, and two things then touch the orphaned channel: closing it restores the
unacknowledged messages, and a task finishing later acknowledges its message. Both build
a Redis client from `channel.connection.client`, which is None by then; the AttributeError
escapes every connection-error handler and the whole worker exits with "Unrecoverable
error". As a connection error both are logged and skipped: the messages stay in Redis's
unacked set (handed out again after the visibility timeout, if Redis kept them) and the
ledger's sweeper re-dispatches any delivery whose message was lost.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError("消息代理连接已关闭 / the broker connection of this channel is gone")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # private kombu API


class Transport(kombu_redis.Transport):
    Channel = Channel
