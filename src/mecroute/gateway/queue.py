"""A bounded, on-disk queue of records waiting for the region (SQLite in WAL mode): a record is
committed before its caller is answered, so what a crash or a region outage leaves in it is sent
when the gateway is back; nothing is dropped.

Commits are grouped: callers who arrive while a commit is on disk wait for it, and the next one
to write commits everything queued meanwhile in one transaction (one WAL append for many
records, not one each); each caller still returns only once its own record is committed.

The gateway's request process writes the file and its shipper process (mecroute.gateway.shipper)
reads and acknowledges; the counts both need (depth, records shipped, the last shipping error)
are kept in the file itself, the depth by triggers in the same transactions as the rows."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tally (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    depth INTEGER NOT NULL,
    shipped INTEGER NOT NULL,
    last_error TEXT
);
INSERT OR IGNORE INTO tally VALUES (1, (SELECT COUNT(*) FROM pending), 0, NULL);
CREATE TRIGGER IF NOT EXISTS queued AFTER INSERT ON pending
    BEGIN UPDATE tally SET depth = depth + 1; END;
CREATE TRIGGER IF NOT EXISTS unqueued AFTER DELETE ON pending
    BEGIN UPDATE tally SET depth = depth - 1; END;
COMMIT;
"""


class QueueFull(Exception):
    """The queue holds its limit: the gateway refuses new work rather than lose a record."""


@dataclass(frozen=True)
class Tally:
    depth: int  # committed and not yet acknowledged
    shipped: int  # acknowledged, ever, by any shipper of this file
    last_error: str | None  # the last shipment's failure; None once one succeeds


class RecordQueue:
    def __init__(self, path: Path, limit: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limit = limit
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a commit is in the file (the OS's cache) when it returns,
        # so a killed process loses none; only losing the machine could lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._state = threading.Lock()  # the fields below
        self._disk = threading.Lock()  # one writer (or reader) of the file at a time
        self._waiting: list[str] = []
        self._accepted = 0  # messages put, ever (a caller's ticket is its number)
        self._committed = 0  # of those, how many are on disk
        self._failed: dict[int, BaseException] = {}  # tickets whose group could not be written
        # The depth as of this process's last commit: the shipper's acknowledgements since
        # only lower it, so a put is never let past the limit; it is read again before a refusal.
        self._depth = self.tally().depth

    def put(self, message: str) -> None:
        """Returns once `message` is committed; QueueFull (nothing kept) past the limit."""
        ticket = self._admit(message)
        if ticket is None:  # full as last seen: the shipper may have acknowledged since
            depth = self.tally().depth
            with self._state:
                self._depth = depth
            ticket = self._admit(message)
            if ticket is None:
                raise QueueFull(f"{depth} records wait for the region (limit {self.limit})")
        with self._disk:
            with self._state:
                if ticket in self._failed:
                    raise self._failed.pop(ticket)
                if self._committed >= ticket:
                    return  # the writer before us committed ours with its own
                batch, self._waiting = self._waiting, []
                upto = self._accepted
                first = upto - len(batch) + 1  # the group's tickets: first..upto
            try:
                with self._transaction():
                    self._db.executemany(
                        "INSERT INTO pending (message) VALUES (?)", [(m,) for m in batch]
                    )
                    depth = self._read(_DEPTH)
            except sqlite3.Error as error:
                with self._state:  # none of the group is kept: each of its callers is told
                    self._failed.update(dict.fromkeys(range(first, upto + 1), error))
                    self._committed = upto
                    raise self._failed.pop(ticket) from None
            with self._state:
                self._committed = upto
                self._depth = depth

    def _admit(self, message: str) -> int | None:
        """The message's ticket, or None (nothing kept) when the queue is at its limit."""
        with self._state:
            if self._depth + len(self._waiting) >= self.limit:
                return None
            self._waiting.append(message)
            self._accepted += 1
            return self._accepted

    def peek(self, count: int) -> list[tuple[int, str]]:
        """The oldest `count` committed messages, left in place until `ack`."""
        with self._disk:
            rows = self._db.execute(
                "SELECT id, message FROM pending ORDER BY id LIMIT ?", (count,)
            ).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def ack(self, ids: list[int], error: str | None = None) -> None:
        """Removes what was shipped; `error`: why the rest of the batch was not (None: it was)."""
        with self._disk, self._transaction():
            removed = self._db.executemany(
                "DELETE FROM pending WHERE id = ?", [(i,) for i in ids]
            ).rowcount
            self._db.execute(
                "UPDATE tally SET shipped = shipped + ?, last_error = ?", (max(removed, 0), error)
            )

    def failed(self, error: str) -> None:
        """A shipment the region refused: nothing left the queue."""
        self.ack([], error)

    @property
    def accepted(self) -> int:
        """Records put since this process opened the queue: one per request it answered."""
        return self._accepted

    def depth(self) -> int:
        """Messages committed and not yet acknowledged (by any process)."""
        return self.tally().depth

    def tally(self) -> Tally:
        with self._disk:
            depth, shipped, last_error = self._db.execute(
                "SELECT depth, shipped, last_error FROM tally"
            ).fetchone()
        return Tally(int(depth), int(shipped), last_error)

    def close(self) -> None:
        with self._disk:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _read(self, query: str) -> int:
        return int(self._db.execute(query).fetchone()[0])


_DEPTH = "SELECT depth FROM tally"
