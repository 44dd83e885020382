"""The gateway's record queue: every put that returns is on disk (grouped commits included),
a put past the limit keeps nothing, and a group that cannot be written fails each of its callers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from mecroute.gateway.queue import QueueFull, RecordQueue


def test_concurrent_puts_are_each_on_disk_once_when_they_return(tmp_path: Path):
    queue = RecordQueue(tmp_path / "q.sqlite", limit=10_000)
    messages = [f"record-{i}" for i in range(400)]

    def put(chunk: list[str]) -> None:
        for message in chunk:
            queue.put(message)

    threads = [threading.Thread(target=put, args=(messages[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()

    reopened = RecordQueue(tmp_path / "q.sqlite", limit=10_000)
    stored = [message for _, message in reopened.peek(1000)]
    assert sorted(stored) == sorted(messages)
    assert reopened.depth() == len(messages)


def test_ack_removes_exactly_what_was_shipped(tmp_path: Path):
    queue = RecordQueue(tmp_path / "q.sqlite", limit=10)
    for i in range(5):
        queue.put(f"m{i}")
    first_two = queue.peek(2)

    queue.ack([message_id for message_id, _ in first_two])

    assert [m for _, m in queue.peek(10)] == ["m2", "m3", "m4"]
    assert queue.depth() == 3


def test_a_full_queue_refuses_and_keeps_nothing(tmp_path: Path):
    queue = RecordQueue(tmp_path / "q.sqlite", limit=2)
    queue.put("a")
    queue.put("b")

    with pytest.raises(QueueFull):
        queue.put("c")
    assert [m for _, m in queue.peek(10)] == ["a", "b"]


def test_a_group_that_cannot_be_written_fails_its_caller_and_keeps_nothing(tmp_path: Path):
    queue = RecordQueue(tmp_path / "q.sqlite", limit=10)
    queue.put("kept")
    # Another connection holds the file's write lock past SQLite's busy timeout.
    blocker = sqlite3.connect(tmp_path / "q.sqlite", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    queue._db.execute("PRAGMA busy_timeout = 0")

    with pytest.raises(sqlite3.OperationalError):
        queue.put("refused")
    blocker.execute("ROLLBACK")
    queue.put("after")

    assert [m for _, m in queue.peek(10)] == ["kept", "after"]
    assert queue.depth() == 2


def test_a_shippers_acknowledgements_on_its_own_connection_free_the_writers_queue(
    tmp_path: Path,
):
    # The gateway's request process writes; its shipper process reads the same file.
    gateway = RecordQueue(tmp_path / "q.sqlite", limit=2)
    shipper = RecordQueue(tmp_path / "q.sqlite", limit=2)
    gateway.put("a")
    gateway.put("b")
    with pytest.raises(QueueFull):
        gateway.put("refused")

    shipper.ack([message_id for message_id, _ in shipper.peek(1)])
    shipper.failed("region unreachable")
    gateway.put("c")

    assert [m for _, m in shipper.peek(10)] == ["b", "c"]
    tally = gateway.tally()
    assert (tally.depth, tally.shipped, tally.last_error) == (2, 1, "region unreachable")
