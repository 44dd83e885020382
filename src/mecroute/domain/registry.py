"""What the system knows about models and MEC nodes: the registry and node tables' records."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["device", "mec", "cloud"]
# Whose measured outcomes a model's correctness follows in evaluation (None: modelled).
OutcomeReference = Literal["mec-class", "cloud-class"] | None
TIERS: tuple[Tier, ...] = ("device", "mec", "cloud")


class Record(BaseModel):
    """Stored records are read back leniently about extra keys (table attributes may grow)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ModelSpec(Record):
    """A registry entry: one servable model and where its figures come from."""

    model_id: str
    version: str = "1"
    tiers: list[Tier]
    size_mb: float = Field(ge=0)
    memory_mb: float = Field(ge=0, description="Resident memory once loaded.")
    sha256: str = ""
    artifact_key: str = Field(
        default="", description="S3 key of the ONNX artifact; empty for cloud."
    )
    latency_ms: float = Field(
        gt=0, description="Compute time for a 100-token request on reference hardware."
    )
    accuracy: float = Field(ge=0, le=1, description="Expected accuracy on an average request.")
    accuracy_source: str = ""
    accuracy_easy: float = Field(
        ge=0, le=1, description="Accuracy on requests the MEC-class reference model gets right."
    )
    accuracy_hard: float = Field(
        ge=0, le=1, description="Accuracy on requests the MEC-class reference model gets wrong."
    )
    outcome_reference: OutcomeReference = None
    price_per_1k_input_usd: float = Field(default=0.0, ge=0)
    price_per_1k_output_usd: float = Field(default=0.0, ge=0)
    use_cases: list[str] = Field(default_factory=list)
    measured_latency_ms: dict[Tier, float] = Field(
        default_factory=dict,
        description=(
            "onnxruntime p50 for one request, measured when the zoo was built, with the session "
            "settings each tier runs the graph with; `latency_ms` stays the reference figure."
        ),
    )


NodeLifecycle = Literal["ok", "draining", "stopped"]


class Heartbeat(Record):
    """What a MEC node writes to its nodes-table record every few seconds: health and load.

    Only these fields change on a heartbeat; the static fields are written at registration.
    """

    heartbeat_at: float
    status: NodeLifecycle = "ok"
    in_flight: int = Field(default=0, ge=0)
    queue_depth: int = Field(default=0, ge=0)
    utilisation: float = Field(default=0.0, ge=0, le=1)
    hot_models: list[str] = Field(default_factory=list)
    memory_used_mb: float = Field(default=0.0, ge=0)


class NodeRecord(Record):
    """A MEC node as registered in the nodes table (heartbeats refresh the load fields)."""

    node_id: str
    site: str
    endpoint: str
    region: str = "local"
    slots: int = Field(default=4, ge=1)
    queue_limit: int = Field(default=16, ge=0)
    speed_factor: float = Field(
        default=1.0, gt=0, description="Compute speed relative to reference."
    )
    site_rtt_ms: float = Field(
        default=0.0, ge=0, description="Extra RTT from the radio to this site."
    )
    memory_budget_mb: float = Field(default=2048, ge=0)
    hot_models: list[str] = Field(default_factory=list)
    heartbeat_at: float = 0.0
    status: NodeLifecycle = "ok"
    in_flight: int = 0
    queue_depth: int = 0
    utilisation: float = 0.0
    memory_used_mb: float = 0.0
