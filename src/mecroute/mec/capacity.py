"""A MEC node's capacity: N concurrent slots and a bounded first-come-first-served queue."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mecroute.adapters.web import CallerGone


class Saturated(Exception):
    """Every slot is busy and the queue is full; `retry_after_s` is when a place should free."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"every slot busy and the queue full; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Load:
    slots: int
    in_flight: int
    queue_depth: int
    queue_limit: int
    # Measured mean time a request holds a slot (EWMA); None before the first one finished.
    service_ms: float | None = None

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.in_flight)

    @property
    def utilisation(self) -> float:
        return min(1.0, self.in_flight / self.slots)


class SlotPool:
    """Admits a request to a slot, queues it behind the others, or refuses it when full."""

    # Weight of the newest slot hold time in the running estimate behind Retry-After.
    _EWMA = 0.2

    def __init__(self, slots: int, queue_limit: int) -> None:
        if slots < 1 or queue_limit < 0:
            raise ValueError("a node needs at least one slot and a non-negative queue limit")
        self.slots = slots
        self.queue_limit = queue_limit
        self._changed = threading.Condition()
        self._in_flight = 0
        self._queue: deque[object] = deque()
        self._hold_s = 0.05
        self._measured = False

    def load(self) -> Load:
        with self._changed:
            service_ms = self._hold_s * 1000 if self._measured else None
            return Load(self.slots, self._in_flight, len(self._queue), self.queue_limit, service_ms)

    @contextmanager
    def slot(self, gone: threading.Event | None = None) -> Iterator[float]:
        """Hold a slot for the duration of the block; yields the milliseconds spent queued.
        A queued request whose `gone` is set (its caller left) leaves the line (CallerGone)."""
        arrived = time.perf_counter()
        with self._changed:
            if self._in_flight >= self.slots or self._queue:
                if len(self._queue) >= self.queue_limit:
                    raise Saturated(self._retry_after_s())
                ticket = object()
                self._queue.append(ticket)
                # Strict arrival order: a request is served only when it is first in line.
                while self._queue[0] is not ticket or self._in_flight >= self.slots:
                    if gone is not None and gone.is_set():
                        self._queue.remove(ticket)
                        self._changed.notify_all()
                        raise CallerGone("the caller left while queued")
                    self._changed.wait()
                self._queue.popleft()
            self._in_flight += 1
            # Whoever is next in line may also fit (several slots can be free at once).
            self._changed.notify_all()
        started = time.perf_counter()
        try:
            yield (started - arrived) * 1000
        finally:
            held_s = time.perf_counter() - started
            with self._changed:
                self._in_flight -= 1
                if self._measured:
                    self._hold_s += self._EWMA * (held_s - self._hold_s)
                else:
                    self._hold_s, self._measured = held_s, True
                self._changed.notify_all()

    def wake(self) -> None:
        """Rouse queued requests to look at their `gone` events again."""
        with self._changed:
            self._changed.notify_all()

    def _retry_after_s(self) -> int:
        """Whole seconds until today's backlog has drained (HTTP wants an integer).

        Draining the backlog, rather than waiting for the first free place, keeps clients that
        honour the header from coming back all at once into a queue that is still full.
        """
        return max(1, math.ceil((len(self._queue) + 1) / self.slots * self._hold_s))
