"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """`immediate=False` gives a SQLite engine for read-only sessions (WAL readers never block)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            json_serializer=_json_dumps,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # the audit chain's hash, computed inside the INSERT that appends an event (audit.py)
            dbapi_conn.create_function("publisher_sha256", 1, _sha256_hex, deterministic=True)
            # pysqlite's implicit BEGIN is deferred and upgrades lazily, which deadlocks two
            # writers; take the write lock up front instead (see the "begin" hook below).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, json_serializer=_json_dumps, **kwargs)


log = logging.getLogger(__name__)
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure (PostgreSQL 40P01/40001) or a busy SQLite file:
    the transaction did nothing and running it again is the right answer."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None)
    if code in ("40P01", "40001"):
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# A transaction that writes WAL (here one transactional logical-decoding message, which any
# role may emit and nothing stores) commits synchronously: it waits until the WAL is flushed
# up to its commit record, which covers every commit before it. (A transaction that only
# takes an id writes no WAL before its commit record and does not wait.)
_WAIT_FOR_FLUSH = "SELECT pg_logical_emit_message(true, 'publisher.flush', '')"


class Flush(StrEnum):
    """When a commit is durable.

    WAIT: the commit waits for the WAL flush (the default).
    LATER: for a transaction whose loss in a database crash is harmless (a claim or a
      dispatch mark: the ledger recovers either, and the send stays at-least-once):
      PostgreSQL commits it without waiting, and the next synchronous commit flushes it.
    AFTER_LOCKS: for a transaction that takes a row lock every writer of its kind needs (an
      approval takes the year's index counter and the audit chain's head). It returns, as
      WAIT does, once the transaction is durable; but on PostgreSQL its commit does not wait
      for the flush while it still holds those locks. With the flush inside the hold,
      concurrent approvals queue behind each other's fsync and a slow disk stalls them all;
      here the commit releases the locks at once and the wait for the flush comes after,
      shared by whatever commits meanwhile. A database crash in between loses only
      transactions whose callers have no answer yet, and the WAL replays in order: never a
      later one without an earlier one, so index numbers and the audit chain stay whole.

    SQLite (WAL, synchronous=NORMAL) never waits for a flush: all three are the same there.
    """

    WAIT = "wait"
    LATER = "later"
    AFTER_LOCKS = "after_locks"


class Database:
    """An engine plus a session factory; the service layer opens one transaction per action."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = (
            make_engine(url, immediate=False, **kwargs) if url.startswith("sqlite") else self.engine
        )
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # the session of an open `one_read` block (this thread's), which `reader` hands out
        self._shared: ContextVar[Session | None] = ContextVar(f"one_read_{id(self)}", default=None)
        # PostgreSQL connections whose commits do not wait for the WAL flush (Flush.LATER, .AFTER_LOCKS)
        self.unflushed_engine = (
            # (a small pool: these transactions are short, and workers hold both pools' connections)
            make_engine(
                url, connect_args={"options": "-c synchronous_commit=off"}, **{"pool_size": 4, **kwargs}
            )
            if self.postgres
            else None
        )
        self.unflushed_sessions = (
            sessionmaker(self.unflushed_engine, expire_on_commit=False)
            if self.unflushed_engine
            else self.sessions
        )

    def use_audit_keys(self, keys: Any) -> None:
        """Every session of this database carries the audit keyring (publisher.editorial.audit
        reads it from `Session.info`): the key stays in this process, never in the database."""
        for maker in {self.sessions, self.read_sessions, self.unflushed_sessions}:
            maker.configure(info={"audit_keys": keys})

    @property
    def postgres(self) -> bool:
        return is_postgres(self.engine)

    @contextmanager
    def transaction(self, *, flush: Flush = Flush.WAIT) -> Iterator[Session]:
        """One transaction, committed when the block ends (rolled back if it raises). The one
        way to write: `run` retries it, `reader` is for reads. `flush` says when the commit
        is durable (see `Flush`)."""
        sessions = self.sessions if flush is Flush.WAIT else self.unflushed_sessions
        with sessions() as session, session.begin():
            yield session
        if flush is Flush.AFTER_LOCKS and self.unflushed_engine is not None:
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(_WAIT_FOR_FLUSH)

    def run(self, fn: Callable[[Session], T], *, flush: Flush = Flush.WAIT, attempts: int = 5) -> T:
        """`fn` in one `transaction`, again from the start when the database broke it off
        with a deadlock or serialization failure (two approvals and a worker's bookkeeping
        can lock the same rows in different orders)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction(flush=flush) as session:
                    return fn(session)
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                log.warning("transaction retried after %s (attempt %d)", type(exc.orig).__name__, attempt)
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def run_core(self, fn: Callable[[Connection], T], *, attempts: int = 5) -> T:
        """`fn` on a bare connection in one transaction whose commit waits for the flush,
        retried as `run` is: for small hot writes built as Core statements, where a Session
        per call would cost more CPU than the statement (publisher/store/channel_values.py)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.begin() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                log.warning("transaction retried after %s (attempt %d)", type(exc.orig).__name__, attempt)
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def core_reader(self) -> Iterator[Connection]:
        """A bare connection for reads (the counterpart of `reader` for Core statements)."""
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def reader(self) -> Iterator[Session]:
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        with self.read_sessions() as session:
            yield session

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """Every `reader` opened in this block (this thread's) is one session: a page whose
        panels each read in a session of their own pays one checkout and transaction."""
        if self._shared.get() is not None:
            yield
            return
        with self.read_sessions() as session:
            token = self._shared.set(session)
            try:
                yield
            finally:
                self._shared.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
        if self.unflushed_engine is not None:
            self.unflushed_engine.dispose()
