"""kombu's Redis transport with two fixes: a channel whose broker connection is gone raises
a connection error, as the caller expects, instead of an AttributeError; and acknowledgements
reuse one Redis client instead of building one each (see Channel._create_client).

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
            raise redis.exceptions.ConnectionError(
                "消息代理连接已关闭 / the broker connection of this channel is gone"
            )
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # private kombu API

    def _create_client(self, asynchronous: bool = False) -> Any:
        """kombu builds a new synchronous Redis client for every acknowledgement a pool
        thread makes (about a tenth of a worker's CPU at a delivery per message). A client
        is only a handle on the channel's connection pool and is thread-safe: keep one per
        pool, a new one when the pool is rebuilt after a reconnect."""
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]  # private kombu API
        pool = self.pool
        cached = self.__dict__.get("_publisher_client")
        if cached is None or cached.connection_pool is not pool:
            cached = super()._create_client(asynchronous=False)  # type: ignore[misc]  # private kombu API
            self.__dict__["_publisher_client"] = cached
        return cached


class Transport(kombu_redis.Transport):
    Channel = Channel
