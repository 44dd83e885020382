"""The gateway's snapshot of the control plane: its own site's nodes probed live, the rest
(registry, other sites, learned statistics, API keys) read from the regional tables, refreshed
on a background thread every few seconds (jittered), never on the request path. When the region
cannot be read, the last snapshot stays in use and is marked stale."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import cast

from mecroute.adapters.ports import MecNodes, ModelRegistry, NodeDirectory, NodeHealth, StatsStore
from mecroute.agents.learning import fold_routing_overhead
from mecroute.agents.resource import probe
from mecroute.domain.estimates import RoutingOverhead, routing_overhead
from mecroute.domain.messages import CloudStatus, ResourceSnapshot, TierStat
from mecroute.domain.registry import ModelSpec, NodeRecord
from mecroute.gateway.auth import ApiKeys

JITTER = 0.2
# Its own generator: the refresh thread never draws from (or reseeds) the global one.
_JITTERS = random.Random()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    resources: ResourceSnapshot
    records: list[NodeRecord]
    # When the region was last read in full; stale: the last refresh could not read it.
    region_read_at: float
    stale: bool
    api_keys: dict[str, str] = field(default_factory=dict)  # key sha256 -> user id


class HeartbeatHealth:
    """A node of another site as its last heartbeat describes it (the gateway does not probe
    other sites); the resource agent's `probe` then judges it as it judges any node."""

    def __init__(self, records: dict[str, NodeRecord]) -> None:
        self.records = records

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        record = self.records[endpoint]
        return NodeHealth(
            in_flight=record.in_flight,
            queue_depth=record.queue_depth,
            slots=record.slots,
            hot_models=list(record.hot_models),
            status=record.status,
        )


@dataclass
class Region:
    """The regional stores a snapshot is built from (the same adapters the agents use)."""

    registry: ModelRegistry
    directory: NodeDirectory
    stats: StatsStore
    api_keys: ApiKeys = field(default_factory=ApiKeys)


class SnapshotKeeper:
    def __init__(
        self,
        site: str,
        region: Region,
        nodes: MecNodes,
        cloud: CloudStatus,
        heartbeat_timeout_s: float,
        interval_s: float = 5.0,
    ) -> None:
        self.site = site
        self.region = region
        self.nodes = nodes
        self.cloud = cloud
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.interval_s = interval_s
        self._models: list[ModelSpec] = []
        self._records: list[NodeRecord] = []
        self._stats: list[TierStat] = []
        self._keys: dict[str, str] = {}
        self._region_read_at = 0.0
        self._overheads: deque[float] = deque()  # recorded since the last refresh
        self._learned: RoutingOverhead | None = None  # this gateway's own, folded from them
        self._current: Snapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("no snapshot yet: call refresh() or start()")
        return self._current

    def start(self) -> SnapshotKeeper:
        self.refresh()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def note_overhead(self, overhead_ms: float) -> None:
        """One request's recorded routing overhead; folded in at the next refresh."""
        self._overheads.append(overhead_ms)

    @property
    def learned_overhead(self) -> RoutingOverhead | None:
        return self._learned

    def refresh(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        stale = False
        try:
            models = self.region.registry.list_models()
            records = self.region.directory.list_nodes()
            stats = self.region.stats.list_stats()
            keys = self.region.api_keys.read()
        except Exception as error:  # the region unreachable: keep routing on what we had
            log.warning("region unreadable, keeping the last snapshot: %s", error)
            stale = True
        else:
            self._models, self._records, self._stats, self._keys = models, records, stats, keys
            self._region_read_at = now
        if not self._models:
            stale = True
        # Only health() is called on it: other sites are read, never sent work from here.
        others = cast(
            MecNodes, HeartbeatHealth({r.endpoint: r for r in self._records if r.site != self.site})
        )
        statuses = [
            probe(
                record,
                self.nodes if record.site == self.site else others,
                now,
                self.heartbeat_timeout_s,
            )
            for record in self._records
        ]
        resources = ResourceSnapshot(
            taken_at=now,
            nodes=statuses,
            models=self._models,
            cloud=self.cloud,
            stats=self._stats,
            # Routing here happens in-process beside the nodes, not on the regional path: the
            # edge prior until this gateway has recorded enough of its own overheads.
            routing_overhead=routing_overhead("edge", self._fold_overheads()),
        )
        self._current = Snapshot(resources, self._records, self._region_read_at, stale, self._keys)
        return self._current

    def _fold_overheads(self) -> RoutingOverhead | None:
        while self._overheads:
            self._learned = fold_routing_overhead(self._learned, "edge", self._overheads.popleft())
        return self._learned

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s * _JITTERS.uniform(1 - JITTER, 1 + JITTER)):
            try:
                self.refresh()
            except Exception:
                log.exception("snapshot refresh failed; the last one stays in use")


class SnapshotRegistry:
    """The registry as the current snapshot holds it (a ModelRegistry for the agents)."""

    def __init__(self, keeper: SnapshotKeeper) -> None:
        self.keeper = keeper

    def list_models(self) -> list[ModelSpec]:
        return list(self.keeper.current.resources.models)
