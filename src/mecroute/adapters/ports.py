"""Interfaces the agents' logic depends on. Real adapters and in-memory fakes implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mecroute.domain.breaker import Breaker
from mecroute.domain.estimates import RoutingOverhead, RoutingPath
from mecroute.domain.messages import ExecutionResult, MonitorRecord, TierStat
from mecroute.domain.registry import Heartbeat, ModelSpec, NodeRecord
from mecroute.domain.spend import Period


class ModelRegistry(Protocol):
    def list_models(self) -> list[ModelSpec]: ...


class NodeDirectory(Protocol):
    def list_nodes(self) -> list[NodeRecord]: ...


class NodeRegistration(Protocol):
    """What a MEC node writes about itself: its record once, then heartbeats."""

    def put(self, node: NodeRecord) -> None: ...

    def heartbeat(self, node_id: str, beat: Heartbeat) -> bool: ...


class StatsStore(Protocol):
    def list_stats(self) -> list[TierStat]: ...


class StatsWriter(Protocol):
    """What the aggregator needs: read one statistic, write it back unless it moved on."""

    def get(self, stat_key: str) -> TierStat | None: ...

    def put_if_unchanged(
        self, stat_key: str, stat: TierStat, expected_revision: int | None
    ) -> bool: ...

    def get_overhead(self, path: RoutingPath) -> RoutingOverhead | None: ...

    def put_overhead_if_unchanged(
        self, overhead: RoutingOverhead, expected_samples: int | None
    ) -> bool: ...


class BreakerStore(Protocol):
    """Circuit breakers by place key, written optimistically (see agents/breakers.py)."""

    def get(self, breaker_key: str) -> Breaker | None: ...

    def list_breakers(self) -> list[Breaker]: ...

    def put_if_unchanged(self, breaker: Breaker, expected_revision: int | None) -> bool: ...


@dataclass(frozen=True)
class Charge:
    """An amount added to a caller's usage item for one month (`account`) and to the day
    `day` within it; `day_limit`/`month_limit`: the most each may reach through this charge
    (None: no limit); `answers`: answers it counts; `kept_until`: when the item may expire
    (epoch seconds, the table's TTL)."""

    account: str
    day: str
    amount: float
    kept_until: float
    day_limit: float | None = None
    month_limit: float | None = None
    answers: int = 0


@dataclass(frozen=True)
class Spent:
    """A caller's spend and paid answers on one day and in its month."""

    day_usd: float = 0.0
    day_answers: int = 0
    month_usd: float = 0.0
    month_answers: int = 0


class SpendLedger(Protocol):
    """Callers' spend per month and day, one item per caller and month, each change one
    conditional write that carries the attempt's hold (see agents/spend.py)."""

    def read(self, account: str, day: str) -> Spent:
        """The account's month, and `day` within it (zero when the item has moved past it)."""
        ...

    def open(self, hold: str, charge: Charge) -> Period | None:
        """Add the charge and open `hold` on the account, unless a limit would be passed: then
        the period refused. A hold already open (a retried call) is left as it is."""
        ...

    def close(self, hold: str, charge: Charge) -> bool:
        """Add the charge and close `hold`, once: False if the hold is not open (closed before,
        or never opened)."""
        ...


class ResponseCache(Protocol):
    def get(self, key: str, now: float) -> ExecutionResult | None: ...

    def put(self, key: str, result: ExecutionResult, expires_at: float) -> None: ...


class DecisionLog(Protocol):
    def put(self, record: MonitorRecord) -> None: ...

    def get(self, request_id: str) -> MonitorRecord | None: ...

    def recent_count(self, user_id: str, since: float) -> int: ...


class MetricsStream(Protocol):
    def publish(self, partition_key: str, record: dict[str, Any]) -> None: ...

    def publish_all(
        self, partition_key: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Publish every record; return those still refused after retrying them."""
        ...


class ArtifactStore(Protocol):
    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class NodeHealth:
    in_flight: int
    queue_depth: int
    slots: int
    hot_models: list[str]
    status: str = "ok"
    service_ms: float | None = None


@dataclass(frozen=True)
class NodeAnswer:
    output: str
    compute_ms: float
    queued_ms: float
    input_tokens: int
    output_tokens: int
    finish_reason: Literal["stop", "length"] = "stop"


@dataclass(frozen=True)
class NodeCall:
    """One inference on a node: `output_tokens` is the router's estimate, `max_tokens` the
    caller's limit, `timeout_s` how long the caller waits for the answer."""

    model_id: str
    prompt: str
    output_tokens: int
    max_tokens: int
    timeout_s: float


@dataclass(frozen=True)
class CloudCall:
    """One Converse request: `max_tokens` is the caller's limit on the answer (not the router's
    estimate), `timeout_s` the longest the call may wait for it (None: the client's own)."""

    model_id: str
    prompt: str
    max_tokens: int
    temperature: float | None = None
    timeout_s: float | None = None


class MecNodes(Protocol):
    """The HTTP API every MEC node serves; `node_id` names the node whose site's key signs."""

    def health(self, endpoint: str, node_id: str) -> NodeHealth: ...

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer: ...

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None: ...

    def evict(self, endpoint: str, node_id: str, model_id: str) -> None: ...


@dataclass(frozen=True)
class CloudAnswer:
    output: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    finish_reason: Literal["stop", "length"] = "stop"


class CloudModel(Protocol):
    """Amazon Bedrock's Converse API, or the local simulator behind the same interface."""

    def converse(self, call: CloudCall) -> CloudAnswer: ...
