"""A bounded, on-disk queue of records waiting for the region (SQLite, committed per put): what a
crash or a region outage leaves in it is sent when the gateway is back; nothing is dropped."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class QueueFull(Exception):
    """The queue holds its limit: the gateway refuses new work rather than lose a record."""


class RecordQueue:
    def __init__(self, path: Path, limit: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limit = limit
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at each checkpointed commit
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY, message TEXT NOT NULL)"
        )
        self._depth = self._count()

    def put(self, message: str) -> None:
        with self._lock:
            if self._depth >= self.limit:
                raise QueueFull(f"{self._depth} records wait for the region (limit {self.limit})")
            self._db.execute("INSERT INTO pending (message) VALUES (?)", (message,))
            self._depth += 1

    def peek(self, count: int) -> list[tuple[int, str]]:
        """The oldest `count` messages, left in place until `ack`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, message FROM pending ORDER BY id LIMIT ?", (count,)
            ).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def ack(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
            self._depth = self._count()

    def depth(self) -> int:
        return self._depth

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])
