"""What the system knows about models and MEC nodes: the registry and node tables' records."""

from __future__ import annotations

import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tier = Literal["device", "mec", "cloud"]
# Who serves a model: the built-in ONNX zoo (device, MEC nodes, the cloud simulator) or Bedrock.
Provider = Literal["mecroute-zoo", "bedrock"]
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
    provider: Provider = "mecroute-zoo"
    bedrock_model_id: str = Field(default="", description="What Bedrock Converse is called with.")
    context_window_tokens: int | None = Field(default=None, gt=0)
    measured_latency_ms: dict[Tier, float] = Field(
        default_factory=dict,
        description=(
            "onnxruntime p50 for one request, measured when the zoo was built, with the session "
            "settings each tier runs the graph with; `latency_ms` stays the reference figure."
        ),
    )


class FileSection(BaseModel):
    """A part of the registry file a person edits: an unknown (mistyped) field is an error.
    Only the tools that read the file (seeding, the zoo build) use these: built on first use,
    so no Lambda pays for them at cold start."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class LatencyProfile(FileSection):
    reference_ms: float = Field(
        gt=0, description="Compute time for a 100-token request on reference hardware."
    )


class AccuracyProfile(FileSection):
    """What the router believes about a model's accuracy, and where the figures come from."""

    average: float = Field(ge=0, le=1, description="Expected accuracy on an average request.")
    easy: float = Field(
        ge=0, le=1, description="On requests the MEC-class reference model gets right."
    )
    hard: float = Field(
        ge=0, le=1, description="On requests the MEC-class reference model gets wrong."
    )
    source: str = Field(min_length=1)
    outcome_reference: OutcomeReference = None
    published: str = Field(default="", description="The model's own published figures.")


class Emulation(FileSection):
    """The ONNX graph the zoo builds to emulate the model's compute (its outputs are not text)."""

    width: int = Field(ge=1, le=4096)
    depth: int = Field(ge=1, le=16)


class RegistryEntry(FileSection):
    """One model in the registry file."""

    model_id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,63}$")
    description: str = ""
    tiers: list[Tier] = Field(min_length=1)
    provider: Provider
    bedrock_model_id: str = Field(default="", pattern=r"^([a-z0-9.:-]{3,128})?$")
    price_per_million_input_usd: float = Field(ge=0)
    price_per_million_output_usd: float = Field(ge=0)
    price_source: str = Field(min_length=1)
    context_window_tokens: int = Field(gt=0)
    latency: LatencyProfile
    accuracy: AccuracyProfile
    use_cases: list[str] = Field(default_factory=list)
    emulation: Emulation

    @model_validator(mode="after")
    def _provider_fits(self) -> Self:
        if self.provider == "bedrock" and not self.bedrock_model_id:
            raise ValueError("a bedrock model needs its bedrock_model_id")
        if self.provider == "bedrock" and self.tiers != ["cloud"]:
            raise ValueError("a bedrock model serves the cloud tier only: tiers must be [cloud]")
        if self.provider != "bedrock" and self.bedrock_model_id:
            raise ValueError("bedrock_model_id is only for provider bedrock")
        return self


class ModelRegistry(FileSection):
    """The registry file: every model the router may choose, with prices and their date."""

    about: str = ""
    prices_read_on: datetime.date
    models: list[RegistryEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [entry.model_id for entry in self.models]
        repeated = sorted({model_id for model_id in ids if ids.count(model_id) > 1})
        if repeated:
            raise ValueError(f"model_id listed more than once: {', '.join(repeated)}")
        return self


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
