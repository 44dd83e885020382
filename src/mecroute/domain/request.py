"""The inference request a client sends: the only model that crosses the public API inbound."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Privacy = Literal["none", "regional", "strict"]
TaskType = Literal[
    "auto", "chat", "qa", "classification", "summarization", "generation", "code", "translation"
]
RadioType = Literal["5g", "lte", "wifi", "3g", "ethernet"]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]

MAX_PROMPT_CHARS = 16_000
# Step Functions refuses a state over 256 KB, and the prompt travels in the pipeline's states
# (twice until the first attempt). Bounded by its size as JSON with non-ASCII characters
# escaped, the largest form any of our serialisers writes (Python's json, the Lambda runtime):
# 16,000 characters of English fit; 16,000 emoji (12 bytes each) do not.
MAX_PROMPT_BYTES = 65_536
# API Gateway stops waiting for the pipeline after 29 s. The deadline (arrival + SLA) ends
# every attempt; after it the pipeline may still wait out one idempotency retry interval (at
# most 5 s, statemachines/) and record the outcome: 20 + 5 + ~1 s stays under 29 s.
API_GATEWAY_LIMIT_S = 29
MAX_SLA_MS = 20_000
# The most tokens a caller may ask one answer to hold, and what an answer may hold when the
# caller names no limit (the model stops earlier when it is done).
MAX_OUTPUT_TOKENS = 32_000
DEFAULT_MAX_TOKENS = 1024


def prompt_bytes(prompt: str) -> int:
    """The prompt's size as a JSON string with non-ASCII characters escaped."""
    return len(json.dumps(prompt))


class StrictModel(BaseModel):
    """Unknown fields are errors, values are never coerced (`"4"` is not a number, as the JSON
    schema API Gateway validates with says) and models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


class ServiceLevel(StrictModel):
    """What the caller needs from this one request."""

    max_latency_ms: int = Field(
        default=3000,
        ge=10,
        le=MAX_SLA_MS,
        description="End-to-end latency budget in milliseconds, counted from arrival: the "
        f"request's deadline. At most {MAX_SLA_MS} (the regional API answers within "
        f"{API_GATEWAY_LIMIT_S} s).",
    )
    min_accuracy: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Lowest acceptable expected accuracy (0-1)."
    )
    max_cost_usd: float = Field(
        default=0.05, ge=0.0, le=10.0, description="Most this request may cost, in US dollars."
    )


class DeviceTelemetry(StrictModel):
    """What the calling device reports about itself."""

    cpu_cores: int = Field(default=4, ge=1, le=128)
    memory_free_mb: int = Field(default=1024, ge=0, le=1_048_576)
    battery_pct: float = Field(default=80.0, ge=0.0, le=100.0)
    charging: bool = False
    has_npu: bool = False
    has_gpu: bool = False
    installed_models: list[Identifier] = Field(default_factory=list, max_length=32)
    cell_id: Identifier | None = None
    region: Identifier | None = Field(
        default=None, description="Where the device is, e.g. an AWS region name such as eu-west-1."
    )


class NetworkConditions(StrictModel):
    """The device's link to the radio network, as measured by the device."""

    radio: RadioType = "5g"
    rtt_ms: float = Field(
        default=20.0, ge=0.0, le=5000.0, description="Round trip from device to the MEC site."
    )
    bandwidth_mbps: float = Field(default=50.0, gt=0.0, le=100_000.0)
    jitter_ms: float = Field(default=5.0, ge=0.0, le=5000.0)
    loss_pct: float = Field(default=0.5, ge=0.0, le=100.0)


class CriterionWeights(StrictModel):
    """Relative weights of the routing criteria; normalised to sum to one."""

    latency: float = Field(default=0.4, ge=0.0, le=1.0)
    accuracy: float = Field(default=0.3, ge=0.0, le=1.0)
    cost: float = Field(default=0.2, ge=0.0, le=1.0)
    availability: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _some_weight(self) -> CriterionWeights:
        if self.latency + self.accuracy + self.cost + self.availability <= 0:
            raise ValueError("at least one weight must be positive")
        return self

    def normalised(self) -> CriterionWeights:
        total = self.latency + self.accuracy + self.cost + self.availability
        return CriterionWeights(
            latency=self.latency / total,
            accuracy=self.accuracy / total,
            cost=self.cost / total,
            availability=self.availability / total,
        )


class InferenceRequest(StrictModel):
    """One inference request. Only `prompt` is required; every other field has a default."""

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description=f"At most {MAX_PROMPT_CHARS:,} characters and {MAX_PROMPT_BYTES:,} bytes as "
        "JSON, non-ASCII characters counted as their \\u escapes (an emoji: 12 bytes).",
    )
    task_type: TaskType = Field(
        default="auto", description="`auto` lets the context agent infer it."
    )
    sla: ServiceLevel = Field(default_factory=ServiceLevel)
    privacy: Privacy = Field(
        default="none",
        description="`strict` never leaves device or MEC; `regional` stays in the device's region.",
    )
    device: DeviceTelemetry = Field(default_factory=DeviceTelemetry)
    network: NetworkConditions = Field(default_factory=NetworkConditions)
    model_preference: Identifier | None = None
    pin_model: bool = Field(
        default=False,
        description="`model_preference` (when given) is required, not preferred: no other model "
        "may serve.",
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=MAX_OUTPUT_TOKENS,
        description=f"Longest answer, in tokens ({DEFAULT_MAX_TOKENS} when not given).",
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    weights: CriterionWeights | None = Field(
        default=None, description="Overrides the default 40/30/20/10 criterion weights."
    )
    user_id: Identifier = Field(
        default="anonymous",
        description="Only where callers are not verified: a request runs as its verified caller "
        "(SigV4 principal, API key), whatever this says (mecroute.domain.identity).",
    )
    idempotency_key: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] | None
    ) = None

    @field_validator("prompt")
    @classmethod
    def _prompt_has_text(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("prompt must contain non-whitespace text")
        if "\x00" in prompt:
            raise ValueError("prompt must not contain NUL characters")
        size = prompt_bytes(prompt)
        if size > MAX_PROMPT_BYTES:
            raise ValueError(
                f"prompt is {size:,} bytes as JSON, over the {MAX_PROMPT_BYTES:,} allowed "
                "(a non-ASCII character counts as its \\u escape: 6 bytes, 12 for an emoji)"
            )
        return prompt

    @property
    def answer_limit(self) -> int:
        """How many tokens the executing model may write."""
        return self.max_tokens or DEFAULT_MAX_TOKENS
