"""Messages between the six agents, in pipeline order."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mecroute.domain.breaker import BreakerView
from mecroute.domain.estimates import REGIONAL_PATH_PRIOR, RoutingOverhead
from mecroute.domain.events import RecordEvent
from mecroute.domain.registry import ModelSpec, Tier
from mecroute.domain.request import CriterionWeights, InferenceRequest, Privacy, TaskType
from mecroute.domain.spend import CallerBudget

Placement = Literal["device", "hot", "warm", "cold"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# 1. Context agent -------------------------------------------------------------------------------


class ContextAnalysis(Message):
    request_id: str
    request: InferenceRequest
    task_type: TaskType
    complexity: float = Field(ge=0, le=1, description="Likelihood the request needs a large model.")
    complexity_source: Literal["heuristic", "onnx"]
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    device_score: float = Field(ge=0, le=1)
    network_score: float = Field(ge=0, le=1)
    personal_data: list[str] = Field(
        default_factory=list, description="Kinds of personal data found, e.g. email, phone."
    )
    effective_privacy: Privacy
    prompt_sha256: str
    recent_requests: int = Field(default=0, ge=0, description="The user's recent request count.")
    received_at: float

    @property
    def deadline_at(self) -> float:
        """When the answer is due (epoch seconds): the SLA counted from the request's arrival.
        Every attempt, fallback and retry has only the time left until then."""
        return self.received_at + self.request.sla.max_latency_ms / 1000


# 2. Resource agent ------------------------------------------------------------------------------


class NodeStatus(Message):
    node_id: str
    site: str
    endpoint: str
    region: str
    healthy: bool
    unhealthy_reason: str = ""
    slots: int
    free_slots: int
    queue_depth: int
    queue_limit: int
    service_ms: float | None = Field(
        default=None, ge=0, description="The node's measured mean slot hold time, when it has one."
    )
    utilisation: float = Field(ge=0, le=1)
    speed_factor: float
    site_rtt_ms: float
    memory_budget_mb: float
    hot_models: list[str]
    heartbeat_age_s: float


class CloudStatus(Message):
    available: bool
    provider: Literal["bedrock", "simulator"]
    region: str
    backhaul_rtt_ms: float = Field(description="Extra RTT from the MEC site to the cloud region.")


class TierStat(Message):
    """Learned from outcomes by the aggregator (the learning loop)."""

    tier: Tier
    node_id: str = "-"
    model_id: str
    latency_ewma_ms: float
    latency_p95_ms: float
    success_rate: float = Field(ge=0, le=1)
    samples: int = Field(ge=0)
    quality: float = Field(default=1.0, ge=0, le=1, description="EWMA of caller feedback.")
    quality_samples: int = Field(default=0, ge=0)
    revision: int = Field(default=0, ge=0, description="Bumped on every write (optimistic lock).")
    recent_events: tuple[str, ...] = Field(
        default=(),
        exclude=True,
        description="Ids of the latest events folded in, to fold none twice; stays in the table.",
    )


class LearnedStatistics(Message):
    """`GET /v1/stats`: what the learning loop has learned per tier, node and model, and the
    regional routing path's learned overhead (null until the aggregator has folded some in)."""

    stats: list[TierStat]
    routing_overhead: RoutingOverhead | None = None


class ResourceSnapshot(Message):
    taken_at: float
    nodes: list[NodeStatus]
    models: list[ModelSpec]
    cloud: CloudStatus
    stats: list[TierStat] = Field(default_factory=list)
    budget_remaining_usd: float | None = None
    routing_overhead: RoutingOverhead = Field(
        default=REGIONAL_PATH_PRIOR,
        description="What the routing path takes before any tier runs; every prediction adds it.",
    )
    breakers: list[BreakerView] = Field(
        default_factory=list, description="Circuit breakers not plainly closed (domain/breaker)."
    )
    caller_budget: CallerBudget | None = Field(
        default=None, description="What is left of the caller's spend budget (None: no limit)."
    )


# 3. Router agent --------------------------------------------------------------------------------


class CriterionScores(Message):
    latency: float = Field(ge=0, le=1)
    accuracy: float = Field(ge=0, le=1)
    cost: float = Field(ge=0, le=1)
    availability: float = Field(ge=0, le=1)


class Candidate(Message):
    tier: Tier
    node_id: str | None = None
    endpoint: str | None = None
    model_id: str
    placement: Placement
    predicted_latency_ms: float = Field(description="End to end: routing path plus the tier.")
    routing_overhead_ms: float = Field(
        default=0.0, ge=0, description="The routing path's share of the predicted latency."
    )
    network_ms: float = Field(ge=0, description="The network share of the predicted latency.")
    predicted_accuracy: float
    predicted_cost_usd: float
    scores: CriterionScores
    score: float

    @property
    def label(self) -> str:
        where = f"{self.tier}/{self.node_id}" if self.node_id else self.tier
        return f"{where}/{self.model_id}"


ConstraintName = Literal[
    "privacy",
    "sla",
    "accuracy",
    "budget",
    "caller_budget",
    "device",
    "health",
    "breaker",
    "preference",
]


class Rejection(Message):
    candidate: str
    constraint: ConstraintName
    detail: str


class RoutingDecision(Message):
    request_id: str
    primary: Candidate | None
    fallbacks: list[Candidate]
    candidates: list[Candidate] = Field(description="Primary first, then fallbacks: the try order.")
    rejected: list[Rejection]
    weights: CriterionWeights
    confidence: float = Field(ge=0, le=1)
    reason: str
    error: Literal["NoFeasibleRoute", "BudgetExceeded"] | None = Field(
        default=None,
        description="Without a primary, why: BudgetExceeded when only the caller's budget "
        "kept a candidate out.",
    )


# 4. Cache agent ---------------------------------------------------------------------------------


class CachePlan(Message):
    request_id: str
    target: Candidate
    placement: Placement
    action: Literal["none", "loaded", "cache_hit"]
    load_ms: float = 0.0
    evicted: list[str] = Field(default_factory=list, description="Made room for the target.")
    preloaded: list[str] = Field(default_factory=list, description="Loaded for later demand.")
    cached: ExecutionResult | None = None


# 5. Execute agent -------------------------------------------------------------------------------


class DeviceDirective(Message):
    """What the client must do to run the request on the device itself."""

    model_id: str
    artifact_key: str
    sha256: str
    installed: bool
    max_tokens: int = Field(ge=1, description="Stop the answer after this many tokens.")
    temperature: float | None = None


class ExecutionResult(Message):
    request_id: str
    tier: Tier
    node_id: str | None
    model_id: str
    output: str
    latency_ms: float = Field(description="Measured compute plus modelled network time.")
    compute_ms: float
    cost_usd: float
    from_cache: bool = False
    device_directive: DeviceDirective | None = None
    input_tokens: int = Field(default=0, ge=0, description="As the serving model counted them.")
    output_tokens: int = Field(default=0, ge=0, description="As the serving model counted them.")
    finish_reason: Literal["stop", "length"] = Field(
        default="stop", description="`length`: the answer stopped at the caller's max_tokens."
    )


# 6. Monitor agent -------------------------------------------------------------------------------


class AttemptFailure(Message):
    candidate: str
    error: str
    cause: str
    # Where the failed attempt ran, for the learning loop's failure events.
    tier: Tier | None = None
    node_id: str | None = None
    model_id: str | None = None
    elapsed_ms: float | None = Field(
        default=None,
        ge=0,
        description="Time the caller lost on this attempt before the next one started.",
    )


class Timing(Message):
    """Where one request's time went, from its arrival at the pipeline to the answer.

    `routing_overhead_ms` is the states' own time: the execution's wall time up to the record
    minus what the tier spent computing; `execution_ms` is the answering tier's latency (its
    compute plus the modelled network to it); `end_to_end_ms` adds both and the time lost to
    failed attempts, and is what the SLA is judged on.
    """

    end_to_end_ms: float = Field(ge=0)
    routing_overhead_ms: float = Field(ge=0)
    execution_ms: float = Field(ge=0)


class MonitorRecord(Message):
    """One per request id: the decision with its outcome. Also the API's response body."""

    request_id: str
    user_id: str
    status: Literal["succeeded", "failed"]
    error: str | None = None
    error_detail: str | None = None
    decision: RoutingDecision | None
    result: ExecutionResult | None
    failures: list[AttemptFailure] = Field(default_factory=list)
    sla_met: bool
    recorded_at: float
    # None on records from before timing was measured, and on tasks without the timestamps.
    timing: Timing | None = None

    @field_validator("decision")
    @classmethod
    def _without_endpoints(cls, decision: RoutingDecision | None) -> RoutingDecision | None:
        """A node's address is internal: the record (the API's answer) names nodes by id."""
        if decision is None:
            return None

        copies: dict[int, Candidate] = {}  # the primary and fallbacks are also candidates

        def bare(candidate: Candidate) -> Candidate:
            if candidate.endpoint is None:
                return candidate
            if id(candidate) not in copies:
                copies[id(candidate)] = candidate.model_copy(update={"endpoint": None})
            return copies[id(candidate)]

        return decision.model_copy(
            update={
                "primary": bare(decision.primary) if decision.primary else None,
                "fallbacks": [bare(c) for c in decision.fallbacks],
                "candidates": [bare(c) for c in decision.candidates],
            }
        )


class UnstoredRecord(Message):
    """What the monitor could not store: parked in the record dead-letter queue for redrive.

    `record` is set when the decision record itself was not written; `events` lists only the
    stream events that were not published (a partial PutRecords failure parks just those).
    """

    request_id: str
    record: MonitorRecord | None
    events: list[RecordEvent] = Field(default_factory=list)
    reason: str


class RecordReceipt(Message):
    """The monitor's answer to a Record* state: the record, and whether all of it was stored."""

    record: MonitorRecord
    stored: bool
    unstored: UnstoredRecord | None = None


CachePlan.model_rebuild()
