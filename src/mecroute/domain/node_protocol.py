"""The MEC node's HTTP protocol as types: requests, answers and errors the node app serves and the
client (adapters/mec_http.py) reads. A node error is known by its `error` code, never its text."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mecroute.domain.errors import ModelIntegrityError, TierUnavailable

MAX_OUTPUT_TOKENS = 100_000
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ModelId = Annotated[str, Field(pattern=MODEL_ID_PATTERN)]


# Each agent speaks a part of the protocol (resource: health; cache: load, evict; execute:
# infer): each message is built on first use, not in every cold start.
class _Request(BaseModel):
    # Strict: `"5"` is not a token count and `1` is not `true`; unknown fields are named.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class _Answer(BaseModel):
    # A newer node may add fields; an older client reads what it knows.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class InferRequest(_Request):
    """POST /infer."""

    model_id: ModelId
    prompt: str
    output_tokens: int = Field(default=64, ge=0, le=MAX_OUTPUT_TOKENS)
    # The caller's cap on the answer; without it `output_tokens` is both cap and length charged.
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    # The router already models the network; the node emulates it only for direct callers.
    emulate_network: bool = True


class InferAnswer(_Answer):
    model_id: str
    node_id: str
    output: str
    input_tokens: int
    output_tokens: int
    finish_reason: Literal["stop", "length"] = "stop"
    compute_ms: float
    onnx_ms: float = 0.0
    queued_ms: float
    network_ms: float = 0.0


class LoadRequest(_Request):
    """POST /models/{model_id}/load: without key and hash, the node asks its registry."""

    artifact_key: str | None = None
    sha256: str | None = None


class LoadAnswer(_Answer):
    model_id: str
    loaded: bool
    already_loaded: bool
    evicted: list[str]
    memory_used_mb: float
    memory_budget_mb: float


class EvictAnswer(_Answer):
    """DELETE /models/{model_id}."""

    model_id: str
    evicted: bool


class HealthAnswer(_Answer):
    """GET /health."""

    status: str = "ok"
    node_id: str = ""
    site: str = ""
    slots: int
    in_flight: int
    free_slots: int = 0
    queue_depth: int
    queue_limit: int = 0
    utilisation: float = 0.0
    # Mean time a request held a slot lately (the node's service time); None before any.
    service_ms: float | None = None
    loaded_models: list[str]
    memory_budget_mb: float = 0.0
    memory_used_mb: float = 0.0
    speed_factor: float = 1.0


class NodeErrorCode(StrEnum):
    """Every `error` a node answers with, and the status it comes with."""

    INVALID_REQUEST = "InvalidRequest"  # 400
    NOT_FOUND = "NotFound"  # 404: no such route
    MODEL_NOT_LOADED = "ModelNotLoaded"  # 404
    UNKNOWN_MODEL = "UnknownModel"  # 404
    METHOD_NOT_ALLOWED = "MethodNotAllowed"  # 405
    SATURATED = "Saturated"  # 429, with Retry-After
    MODEL_INTEGRITY = "ModelIntegrityError"  # 422
    INSUFFICIENT_MEMORY = "InsufficientMemory"  # 507
    ARTIFACT_UNAVAILABLE = "ArtifactUnavailable"  # 502


class NodeErrorBody(_Answer):
    """Every node error body (see adapters/web.py): the code, a message, the fields at fault."""

    error: str
    message: str = ""
    problems: list[dict[str, str]] = Field(default_factory=list)
    request_id: str = ""


def node_error(message: str, code: str, status: int) -> TierUnavailable:
    """The exception a node's error answer becomes on the client side: still a TierUnavailable
    (the name the state machine's Catch matches), carrying the node's code for callers that care
    (evicting a model already gone), so none has to read the message."""
    error = (
        ModelIntegrityError(message)
        if code == NodeErrorCode.MODEL_INTEGRITY
        else TierUnavailable(message)
    )
    error.node_error, error.node_status = code, status
    return error
