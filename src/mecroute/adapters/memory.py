"""In-memory fakes of the ports, for unit tests and the workload simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mecroute.domain.errors import AlreadyRecorded
from mecroute.domain.messages import ExecutionResult, MonitorRecord, TierStat
from mecroute.domain.registry import Heartbeat, ModelSpec, NodeRecord


@dataclass
class MemoryRegistry:
    models: list[ModelSpec] = field(default_factory=list)

    def list_models(self) -> list[ModelSpec]:
        return list(self.models)


@dataclass
class MemoryNodes:
    nodes: list[NodeRecord] = field(default_factory=list)

    def list_nodes(self) -> list[NodeRecord]:
        return list(self.nodes)

    def put(self, node: NodeRecord) -> None:
        self.nodes = [n for n in self.nodes if n.node_id != node.node_id] + [node]

    def heartbeat(self, node_id: str, beat: Heartbeat) -> bool:
        for index, node in enumerate(self.nodes):
            if node.node_id == node_id:
                self.nodes[index] = node.model_copy(update=beat.model_dump())
                return True
        return False


@dataclass
class MemoryStats:
    stats: list[TierStat] = field(default_factory=list)

    def list_stats(self) -> list[TierStat]:
        return list(self.stats)


@dataclass
class MemoryResponseCache:
    entries: dict[str, tuple[ExecutionResult, float]] = field(default_factory=dict)

    def get(self, key: str, now: float) -> ExecutionResult | None:
        entry = self.entries.get(key)
        return entry[0] if entry and entry[1] > now else None

    def put(self, key: str, result: ExecutionResult, expires_at: float) -> None:
        self.entries[key] = (result, expires_at)


@dataclass
class MemoryDecisionLog:
    records: dict[str, MonitorRecord] = field(default_factory=dict)

    def put(self, record: MonitorRecord) -> None:
        if record.request_id in self.records:
            raise AlreadyRecorded(record.request_id)
        self.records[record.request_id] = record

    def get(self, request_id: str) -> MonitorRecord | None:
        return self.records.get(request_id)

    def recent_count(self, user_id: str, since: float) -> int:
        return sum(
            1 for r in self.records.values() if r.user_id == user_id and r.recorded_at >= since
        )


@dataclass
class MemoryMetricsStream:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, partition_key: str, record: dict[str, Any]) -> None:
        self.records.append((partition_key, record))

    def publish_all(
        self, partition_key: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for record in records:
            self.publish(partition_key, record)
        return []
