"""Each agent's environment, validated at cold start so a bad deployment fails on the first call."""

from __future__ import annotations

import os
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mecroute.adapters.node_keys import NodeAccess, NodeKeyring, NodeKeySecrets, NodeNetworks
from mecroute.domain.breaker import BreakerPolicy
from mecroute.domain.errors import problems_line
from mecroute.domain.request import CriterionWeights

# The routing criteria's default weights are the domain's; the environment may override them.
_DEFAULT_WEIGHTS = CriterionWeights()


class MissingConfiguration(RuntimeError):
    """An environment variable the agent needs is absent or malformed."""


class AgentSettings(BaseModel):
    # Built by `from_env`: a handler builds its own settings class at cold start, not all 14.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_env(cls) -> Self:
        """Field `models_table` reads MODELS_TABLE, and so on."""
        values = {
            name: os.environ[name.upper()]
            for name in cls.model_fields
            if name.upper() in os.environ
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = problems_line(error, str.upper)
            raise MissingConfiguration(f"{cls.__name__}: {problems}") from None


class BreakerSettings(AgentSettings):
    """Where the circuit breakers live and when they open (domain/breaker.py)."""

    breakers_table: str
    breaker_consecutive_failures: int = Field(default=3, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)

    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(
            consecutive_failures=self.breaker_consecutive_failures,
            cooldown_s=self.breaker_cooldown_s,
        )


class SpendSettings(AgentSettings):
    """Where callers' spend is kept (agents/spend.py); budgets come from the tenants file."""

    usage_table: str


class ContextSettings(AgentSettings):
    decisions_table: str


class NodeCallerSettings(AgentSettings):
    """An agent that calls MEC nodes: the node key secrets it may read and where nodes may be
    (adapters/node_keys.py); a malformed value fails the cold start, naming the variable."""

    mec_node_keys: str = ""
    mec_node_networks: str = ""

    def node_access(self) -> NodeAccess:
        try:
            secrets = NodeKeySecrets.model_validate_json(self.mec_node_keys or "{}")
            networks = NodeNetworks.parse(self.mec_node_networks)
        except (ValidationError, ValueError) as error:
            raise MissingConfiguration(f"{type(self).__name__}: {error}") from None
        return NodeAccess(NodeKeyring(secrets), networks)


class ResourceSettings(BreakerSettings, SpendSettings, NodeCallerSettings):
    models_table: str
    nodes_table: str
    stats_table: str
    cloud_provider: Literal["bedrock", "simulator"] = "simulator"
    cloud_region: str = Field(default_factory=lambda: os.environ.get("AWS_REGION", "us-east-1"))
    cloud_backhaul_ms: float = Field(default=60.0, ge=0)
    heartbeat_timeout_s: float = Field(default=30.0, gt=0)


class RouterSettings(AgentSettings):
    """Default criterion weights, as fractions (0.4, not 40)."""

    weight_latency: float = Field(default=_DEFAULT_WEIGHTS.latency, ge=0, le=1)
    weight_accuracy: float = Field(default=_DEFAULT_WEIGHTS.accuracy, ge=0, le=1)
    weight_cost: float = Field(default=_DEFAULT_WEIGHTS.cost, ge=0, le=1)
    weight_availability: float = Field(default=_DEFAULT_WEIGHTS.availability, ge=0, le=1)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        total = self.weight_latency + self.weight_accuracy + self.weight_cost
        if total + self.weight_availability <= 0:
            raise ValueError("at least one WEIGHT_* must be positive")
        return self


class CacheSettings(NodeCallerSettings):
    models_table: str
    cache_table: str
    nodes_table: str
    stats_table: str


class ExecuteSettings(BreakerSettings, SpendSettings, NodeCallerSettings):
    models_table: str
    cache_table: str
    artifacts_bucket: str
    cloud_provider: Literal["bedrock", "simulator"] = "simulator"
    bedrock_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    cloud_backhaul_ms: float = Field(default=60.0, ge=0)
    response_ttl_s: float = Field(default=600.0, ge=0)
    cloud_sim_requests_per_s: float | None = Field(
        default=None,
        ge=0,
        description="Throttle the cloud simulator like a Bedrock quota (0: every call).",
    )
    idempotency_table: str
    idempotency_ttl_s: int = Field(
        default=3600, gt=0, description="How long a repeated idempotency key gets the first result."
    )
    deadline_grace_ms: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="How long an attempt may run past its request's deadline: none in AWS. The "
        "test suite's offline runtimes allow some, as moto's control plane alone can take "
        "seconds on a loaded machine; the deadline's own tests allow none.",
    )


class MonitorSettings(AgentSettings):
    decisions_table: str
    metrics_stream: str
    # What the asynchronous RecordOutcome could not store is parked here (a queue name).
    record_dead_letters_queue: str


class AggregatorSettings(AgentSettings):
    stats_table: str


class ApiReadsSettings(BreakerSettings, SpendSettings):
    models_table: str
    nodes_table: str
    decisions_table: str
    stats_table: str


class FeedbackSettings(AgentSettings):
    decisions_table: str
    metrics_stream: str
    idempotency_table: str
    feedback_window_s: int = Field(
        default=86_400, gt=0, description="How long a repeated submission gets the first receipt."
    )
