"""The rss channel's own store: one row per item (its latest entry) and one membership row
per (feed, item), in a small SQLite file beside the generated feeds.

The adapter never reads the service's store; this file is what it has published, and what a
reconciliation compares against the ledger. Regeneration reads only the newest `limit`
members of a feed through the `(feed, sort)` index, so its cost does not grow with the archive.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    uid TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    feed TEXT NOT NULL,
    uid TEXT NOT NULL,
    sort TEXT NOT NULL,
    PRIMARY KEY (feed, uid)
);
CREATE INDEX IF NOT EXISTS members_recent ON members (feed, sort DESC);
CREATE INDEX IF NOT EXISTS members_uid ON members (uid);
CREATE TABLE IF NOT EXISTS feeds (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    changed_at REAL NOT NULL,
    rss_hash TEXT,
    atom_hash TEXT
);
"""


@dataclass(frozen=True)
class FeedRow:
    key: str
    kind: str
    label: str
    changed_at: float
    rss_hash: str | None
    atom_hash: str | None


@dataclass(frozen=True)
class Change:
    """What one upsert/removal did: `affected` feeds must be regenerated, `changed` ones got a
    new modification time. `stale` means a newer version was already recorded (no-op)."""

    affected: frozenset[str]
    changed: frozenset[str]
    stale: bool = False


def sort_key(entry: dict[str, Any]) -> str:
    """Newest `updated` first; the uid breaks ties so the order is total and stable."""
    updated = datetime.fromisoformat(entry["updated"]).astimezone(UTC)
    return f"{updated.strftime('%Y-%m-%dT%H:%M:%S.%f')}|{entry['uid']}"


class FeedStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # executescript commits on its own, so the schema is created outside transaction().
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (at shutdown, when no send is running)."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- writes -----------------------------------------------------------------------------
    def put(
        self,
        entry: dict[str, Any],
        feeds: dict[str, tuple[str, str]],
        *,
        now: float,
        listed: bool = True,
    ) -> Change:
        """Record `entry` as the item's latest; `listed=False` keeps only a tombstone (a
        withdrawal without notice), so an older version arriving late cannot resurrect it."""
        uid, version = entry["uid"], int(entry["version"])
        blob = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        new_feeds = set(feeds) if listed else set()
        with self.transaction() as conn:
            row = conn.execute("SELECT version, data FROM entries WHERE uid = ?", (uid,)).fetchone()
            old_feeds = {r[0] for r in conn.execute("SELECT feed FROM members WHERE uid = ?", (uid,))}
            if row is not None and row[0] > version:
                return Change(affected=frozenset(old_feeds), changed=frozenset(), stale=True)
            same = row is not None and row[1] == blob
            changed = old_feeds ^ new_feeds if same else old_feeds | new_feeds
            conn.execute(
                "INSERT INTO entries (uid, version, withdrawn, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (uid) DO UPDATE SET version = excluded.version, "
                "withdrawn = excluded.withdrawn, data = excluded.data",
                (uid, version, int(bool(entry.get("withdrawn"))), blob),
            )
            gone = old_feeds - new_feeds
            if gone:
                conn.executemany("DELETE FROM members WHERE feed = ? AND uid = ?", [(f, uid) for f in gone])
            sort = sort_key(entry)
            conn.executemany(
                "INSERT INTO members (feed, uid, sort) VALUES (?, ?, ?) "
                "ON CONFLICT (feed, uid) DO UPDATE SET sort = excluded.sort",
                [(f, uid, sort) for f in new_feeds],
            )
            for key, (kind, label) in feeds.items():
                conn.execute(
                    "INSERT INTO feeds (key, kind, label, changed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (key, kind, label, now),
                )
            if changed:
                conn.executemany(
                    "UPDATE feeds SET changed_at = MAX(changed_at, ?) WHERE key = ?",
                    [(now, k) for k in changed],
                )
        return Change(affected=frozenset(old_feeds | new_feeds), changed=frozenset(changed))

    def record_hashes(self, key: str, rss_hash: str, atom_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE feeds SET rss_hash = ?, atom_hash = ? WHERE key = ?", (rss_hash, atom_hash, key)
            )

    def bulk_load(
        self, entries: Iterable[tuple[dict[str, Any], dict[str, tuple[str, str]]]], *, now: float
    ) -> int:
        """Fill an archive in one transaction (migrations, benchmarks); feeds are not regenerated."""
        count = 0
        with self.transaction() as conn:
            for entry, feeds in entries:
                blob = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                conn.execute(
                    "INSERT OR REPLACE INTO entries (uid, version, withdrawn, data) VALUES (?, ?, 0, ?)",
                    (entry["uid"], int(entry["version"]), blob),
                )
                sort = sort_key(entry)
                conn.executemany(
                    "INSERT OR REPLACE INTO members (feed, uid, sort) VALUES (?, ?, ?)",
                    [(f, entry["uid"], sort) for f in feeds],
                )
                for key, (kind, label) in feeds.items():
                    conn.execute(
                        "INSERT OR IGNORE INTO feeds (key, kind, label, changed_at) VALUES (?, ?, ?, ?)",
                        (key, kind, label, now),
                    )
                count += 1
        return count

    # -- reads ------------------------------------------------------------------------------
    def feed(self, key: str) -> FeedRow | None:
        row = (
            self._conn()
            .execute(
                "SELECT key, kind, label, changed_at, rss_hash, atom_hash FROM feeds WHERE key = ?", (key,)
            )
            .fetchone()
        )
        return FeedRow(*row) if row else None

    def feeds(self) -> list[FeedRow]:
        rows = (
            self._conn()
            .execute("SELECT key, kind, label, changed_at, rss_hash, atom_hash FROM feeds ORDER BY key")
            .fetchall()
        )
        return [FeedRow(*r) for r in rows]

    def recent(self, key: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` entries of one feed (index range scan, then point lookups)."""
        rows = (
            self._conn()
            .execute(
                "SELECT e.data FROM members AS m JOIN entries AS e ON e.uid = m.uid "
                "WHERE m.feed = ? ORDER BY m.sort DESC LIMIT ?",
                (key, limit),
            )
            .fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def entry(self, uid: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT data FROM entries WHERE uid = ?", (uid,)).fetchone()
        return json.loads(row[0]) if row else None

    def holdings(self, uid: str | None = None) -> Iterator[tuple[str, int, bool, str | None]]:
        """(uid, version, withdrawn, validity) of every entry, tombstones included (of the
        one entry `uid` when given)."""
        with self.transaction() as conn:
            if uid is None:
                rows = conn.execute(
                    "SELECT uid, version, withdrawn, data FROM entries ORDER BY uid"
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT uid, version, withdrawn, data FROM entries WHERE uid = ?", (uid,)
                ).fetchall()
        for uid, version, withdrawn, data in rows:
            entry = json.loads(data)
            yield uid, int(version), bool(withdrawn), (entry.get("disclosure") or {}).get("validity")

    def windows(self, uid: str, limit: int) -> list[str]:
        """The feeds whose newest `limit` members include `uid`: the feed files that carry its
        entry (each count of newer members stops at `limit`, through the `(feed, sort)` index)."""
        rows = (
            self._conn()
            .execute(
                "SELECT m.feed FROM members AS m WHERE m.uid = ? AND (SELECT count(*) FROM "
                "(SELECT 1 FROM members AS n WHERE n.feed = m.feed AND n.sort > m.sort LIMIT ?)) < ?",
                (uid, limit, limit),
            )
            .fetchall()
        )
        return sorted(r[0] for r in rows)

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM entries").fetchone()[0])
