"""Named pipeline errors. Their class names are the Step Functions error names the ASL matches."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError


class PipelineError(Exception):
    """Base class; `http_status` is what the API answers when the execution fails with it."""

    http_status = 502


class CallerError(PipelineError):
    """The caller's doing, not the pipeline's: counted and streamed as a rejection."""


class InvalidRequest(CallerError):
    """The request failed validation; the message is JSON naming each field and its problem."""

    http_status = 400

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        super().__init__(json.dumps({"message": "invalid request", "problems": problems}))

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> InvalidRequest:
        return cls(field_problems(error))


class NoFeasibleRoute(PipelineError):
    """No candidate satisfies the request's hard constraints (privacy, SLA, accuracy, budget)."""

    http_status = 422


class BudgetExceeded(CallerError):
    """The caller's spend budget cannot pay for any candidate the request allows; the message
    names the budget, what is spent and left, and when it resets (domain/spend.py)."""

    http_status = 402


class NoTierAvailable(PipelineError):
    """Every feasible candidate was tried and failed."""

    http_status = 503


class TierUnavailable(PipelineError):
    """The chosen tier/node could not serve the request; the pipeline tries the next fallback."""

    http_status = 503
    # When a MEC node refused: its error code (domain/node_protocol.NodeErrorCode) and status.
    node_error: str | None = None
    node_status: int | None = None


class DeadlineExceeded(TierUnavailable):
    """The attempt cannot answer before the request's deadline (its SLA counted from arrival):
    not started when its predicted time exceeds the time left, abandoned when the time runs
    out. The pipeline moves on to the next candidate, which may be faster."""


class CircuitOpen(TierUnavailable):
    """The place's circuit breaker is open (or its one half-open probe is taken): refused at
    once, without waiting on the place; the pipeline moves to the next fallback."""


class ModelIntegrityError(TierUnavailable):
    """A model artifact did not match its registered sha256; it is never loaded or served."""


class PrivacyViolation(PipelineError):
    """A candidate would send a request where its privacy forbids; refused before any call.

    The router never proposes such a candidate; the execute agent checks again so that a
    routing bug cannot leak a `strict` request to the cloud (fail closed). The pipeline
    treats it as a failed attempt and moves on to the next candidate.
    """


class IdempotencyKeyReused(CallerError):
    """The caller reused an idempotency key for a different prompt (IETF Idempotency-Key: 422)."""

    http_status = 422


class RecordNotStored(PipelineError):
    """The monitor agent could not run at all; its task is in the record dead-letter queue."""

    http_status = 503


class StateDataLimitExceeded(PipelineError):
    """A state's data outgrew Step Functions' 256 KB (`States.DataLimitExceeded`, which
    `States.ALL` does not catch): recorded as a failed request and answered by this name."""

    http_status = 502


class StoreUnavailable(PipelineError):
    """A table or stream refused a write after the SDK's retries (throttled, unreachable)."""


class AlreadyRecorded(Exception):
    """The decisions table holds a record for this request id already: an earlier run of the
    same store wrote it (a repeated delivery, a retry), and it is kept as it was."""


HTTP_STATUS_BY_ERROR: dict[str, int] = {
    cls.__name__: cls.http_status
    for cls in (
        InvalidRequest,
        NoFeasibleRoute,
        BudgetExceeded,
        NoTierAvailable,
        TierUnavailable,
        IdempotencyKeyReused,
        RecordNotStored,
        StateDataLimitExceeded,
    )
}


# Error names (as Step Functions reports them) that are rejections; every other is a failure.
REJECTIONS = frozenset(
    cls.__name__ for cls in (InvalidRequest, IdempotencyKeyReused, BudgetExceeded)
)


def is_rejection(error: str | None) -> bool:
    """Whether a request that ended with the error named `error` was the caller's doing."""
    return error in REJECTIONS


def field_problems(error: ValidationError) -> list[dict[str, str]]:
    """Turn a pydantic error into [{"field": "sla.max_latency_ms", "problem": "..."}]."""
    problems = []
    for item in error.errors(include_url=False):
        parts = [str(part) for part in item["loc"]]
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # A discriminated union names its tag field only in the context ("'action'").
            parts.append(str(item.get("ctx", {}).get("discriminator", "")).strip("'"))
        location = ".".join(part for part in parts if part) or "(body)"
        problems.append({"field": location, "problem": item["msg"]})
    return problems


def problems_line(error: ValidationError, name: Callable[[str], str] = str) -> str:
    """Each field (as `name` spells its dotted location) and its problem on one line, for
    configuration errors: "a.b: Field required; c: Input should be a valid integer"."""
    return "; ".join(f"{name('.'.join(map(str, e['loc'])))}: {e['msg']}" for e in error.errors())


def error_body(error: str, cause: str | None) -> dict[str, Any]:
    """The JSON error body the API returns for a failed execution."""
    try:
        detail = json.loads(cause) if cause else {}
    except json.JSONDecodeError:
        detail = {"message": cause}
    if isinstance(detail, dict) and "errorMessage" in detail:
        try:
            detail = json.loads(detail["errorMessage"])
        except (TypeError, json.JSONDecodeError):
            detail = {"message": detail["errorMessage"]}
    if not isinstance(detail, dict):
        detail = {"message": str(detail)}
    return {"error": error, **detail}
