"""Every Lambda function of the app in one list: its handler, settings, size, network and what it
may read and write. infra builds functions and grants from it; the offline runtime dispatches
from it; the benchmarks read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mecroute.adapters.tables import DECISIONS_USER_INDEX
from mecroute.domain.node_auth import Scope
from mecroute.lambda_support.settings import (
    AgentSettings,
    AggregatorSettings,
    ApiReadsSettings,
    CacheSettings,
    ContextSettings,
    ExecuteSettings,
    FeedbackSettings,
    MonitorSettings,
    ResourceSettings,
    RouterSettings,
)

# What each resource is called in the settings models (and, upper-cased, in the environment).
Resource = Literal[
    "models_table",
    "nodes_table",
    "decisions_table",
    "stats_table",
    "cache_table",
    "breakers_table",
    "usage_table",
    "idempotency_table",
    "artifacts_bucket",
    "metrics_stream",
]
# Where a function is started from: a Task state of the pipeline, an API route, the stream.
Trigger = Literal["pipeline", "api", "stream"]
LAMBDAS_DIR = Path(__file__).resolve().parents[3] / "lambdas"
DEFAULT_MEMORY_MB = 512
# What powertools' DynamoDBPersistenceLayer calls on the idempotency table.
IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
PUBLISH = ("kinesis:PutRecord", "kinesis:PutRecords")


@dataclass(frozen=True)
class Access:
    """IAM actions on one resource (on one of its indexes when `index` is set)."""

    resource: Resource
    actions: tuple[str, ...]
    index: str | None = None


@dataclass(frozen=True)
class EventInvoke:
    """How Lambda handles a function's asynchronous events (its event-invoke config): retried
    this many times, given up on past this age, then sent to the on-failure destination."""

    retry_attempts: int
    max_event_age_s: int


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    settings: type[AgentSettings]
    trigger: Trigger
    access: tuple[Access, ...]
    memory_mb: int = DEFAULT_MEMORY_MB
    # Imports numpy/onnxruntime (gets the onnx layer); tests/infra/test_layers.py imports every
    # other function with them blocked, so this flag cannot silently fall behind the code.
    onnx: bool = False
    # Talks HTTP to MEC nodes (which only answer inside the VPC), signing with this key
    # (domain/node_auth.py): load and evict are the control plane's (the cache agent's).
    node_key: Scope | None = None
    # Invoked asynchronously by some state (InvocationType Event): how Lambda retries it.
    event_invoke: EventInvoke | None = None

    @property
    def source(self) -> Path:
        """The directory that deploys as the function's code (`handler.handler`)."""
        return LAMBDAS_DIR / self.name

    @property
    def handler_path(self) -> Path:
        return self.source / "handler.py"

    @property
    def mec_caller(self) -> bool:
        return self.node_key is not None

    def reads(self, resource: Resource) -> bool:
        return any(access.resource == resource for access in self.access)


def _on(resource: Resource, *actions: str, index: str | None = None) -> Access:
    return Access(resource, actions, index)


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "context",
        "Context agent: validates the request, estimates complexity, tokens, privacy",
        ContextSettings,
        "pipeline",
        # DynamoDecisionLog.recent_count: a query on the by-user index, nothing else.
        (_on("decisions_table", "dynamodb:Query", index=DECISIONS_USER_INDEX),),
        onnx=True,
    ),
    Function(
        "resource",
        "Resource agent: MEC node health and load, registry, learned statistics",
        ResourceSettings,
        "pipeline",
        (
            *(_on(t, "dynamodb:Scan") for t in ("models_table", "nodes_table", "stats_table")),
            # The regional path's learned routing overhead, one item beside the statistics.
            _on("stats_table", "dynamodb:GetItem"),
            # Breakers that are not closed go into the snapshot (the router's constraint).
            _on("breakers_table", "dynamodb:Scan"),
            # The caller's spend today and this month, for the router's budget constraint.
            _on("usage_table", "dynamodb:GetItem"),
        ),
        node_key="infer",
    ),
    Function(
        "router",
        "Router agent: hard constraints, weighted scoring, primary and fallbacks",
        RouterSettings,
        "pipeline",
        (),
    ),
    Function(
        "cache",
        "Cache agent: response cache lookups, loads warm models onto MEC nodes",
        CacheSettings,
        "pipeline",
        (
            _on("models_table", "dynamodb:Scan"),
            _on("cache_table", "dynamodb:GetItem"),
            _on("nodes_table", "dynamodb:Scan"),
            _on("stats_table", "dynamodb:Scan"),
        ),
        node_key="control",
    ),
    Function(
        "execute",
        "Execute agent: runs the request on device, MEC node or cloud (Bedrock)",
        ExecuteSettings,
        "pipeline",
        (
            _on("models_table", "dynamodb:Scan"),
            _on("cache_table", "dynamodb:PutItem"),
            # The device tier's emulated run and the cloud simulator read zoo artifacts by key.
            _on("artifacts_bucket", "s3:GetObject"),
            _on("idempotency_table", *IDEMPOTENCY),
            # The execute guard: read a place's breaker, write its transitions conditionally.
            _on("breakers_table", "dynamodb:GetItem", "dynamodb:PutItem"),
            # Spend reserved and settled by conditional updates of one item per caller and
            # month, read back only when a condition refused one (agents/spend.py).
            _on("usage_table", "dynamodb:GetItem", "dynamodb:UpdateItem"),
        ),
        memory_mb=1024,
        onnx=True,
        node_key="infer",
    ),
    Function(
        "monitor",
        "Monitor agent: records each decision and outcome, metrics, stream events",
        MonitorSettings,
        "pipeline",
        (
            # Read first: a repeated RecordOutcome event finds its record stored.
            _on("decisions_table", "dynamodb:GetItem", "dynamodb:PutItem"),
            _on("metrics_stream", *PUBLISH),
        ),
        # RecordOutcome's event: Lambda's default two retries, an hour to get through; then
        # the record dead-letter queue (infra/pipeline.py), which the queue-parking needs too.
        event_invoke=EventInvoke(retry_attempts=2, max_event_age_s=3600),
    ),
    Function(
        "aggregator",
        "Learning loop: folds pipeline outcomes into tier/node/model statistics",
        AggregatorSettings,
        "stream",
        # Optimistic read-modify-write of one statistic per record (see agents/aggregator.py).
        (_on("stats_table", "dynamodb:GetItem", "dynamodb:PutItem"),),
    ),
    Function(
        "api_reads",
        "Read-only API: model registry, MEC nodes, usage, learned statistics, one decision",
        ApiReadsSettings,
        "api",
        (
            _on("models_table", "dynamodb:Scan"),
            _on("nodes_table", "dynamodb:Scan"),
            _on("decisions_table", "dynamodb:GetItem"),
            _on("breakers_table", "dynamodb:Scan"),
            _on("usage_table", "dynamodb:GetItem"),
            _on("stats_table", "dynamodb:Scan", "dynamodb:GetItem"),
        ),
    ),
    Function(
        "feedback",
        "Feedback API: validates a verdict on an answer and streams it to the learning loop",
        FeedbackSettings,
        "api",
        (
            _on("decisions_table", "dynamodb:GetItem"),
            _on("metrics_stream", *PUBLISH),
            _on("idempotency_table", *IDEMPOTENCY),
        ),
    ),
)
BY_NAME = {function.name: function for function in FUNCTIONS}
# The six agents, in the order the pipeline calls them.
AGENTS = tuple(function.name for function in FUNCTIONS if function.trigger == "pipeline")
ONNX_AGENTS = frozenset(function.name for function in FUNCTIONS if function.onnx)
