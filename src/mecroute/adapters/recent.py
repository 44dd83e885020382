"""Short-lived in-process caches of table reads, so a warm Lambda does not rescan a table on
every request. The registry changes on deploys; statistics and node placement move slowly
enough that a few seconds of staleness costs nothing a heartbeat would not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from mecroute.adapters.ports import ModelRegistry, NodeDirectory, StatsStore, StatsWriter
from mecroute.domain.estimates import RoutingOverhead, RoutingPath
from mecroute.domain.messages import TierStat
from mecroute.domain.registry import ModelSpec, NodeRecord

T = TypeVar("T")


class Recent(Generic[T]):
    def __init__(
        self, read: Callable[[], list[T]], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._read, self._ttl_s, self._clock = read, ttl_s, clock
        self._value: list[T] = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> list[T]:
        with self._lock:
            if self._clock() - self._read_at >= self._ttl_s:
                self._value = self._read()
                self._read_at = self._clock()
            return list(self._value)


class RecentRegistry:
    def __init__(self, inner: ModelRegistry, ttl_s: float = 60.0) -> None:
        self.list_models: Callable[[], list[ModelSpec]] = Recent(inner.list_models, ttl_s)


class RecentNodes:
    def __init__(self, inner: NodeDirectory, ttl_s: float = 5.0) -> None:
        self.list_nodes: Callable[[], list[NodeRecord]] = Recent(inner.list_nodes, ttl_s)


class RecentStats:
    def __init__(self, inner: StatsStore, ttl_s: float = 5.0) -> None:
        self.list_stats: Callable[[], list[TierStat]] = Recent(inner.list_stats, ttl_s)


class RecentOverhead:
    """The path's learned routing overhead, re-read at most every `ttl_s` (None: none yet)."""

    def __init__(self, inner: StatsWriter, path: RoutingPath, ttl_s: float = 5.0) -> None:
        def read() -> list[RoutingOverhead]:
            learned = inner.get_overhead(path)
            return [] if learned is None else [learned]

        self._recent = Recent(read, ttl_s)

    def __call__(self) -> RoutingOverhead | None:
        return next(iter(self._recent()), None)
