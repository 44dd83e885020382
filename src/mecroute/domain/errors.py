"""Named pipeline errors. Their class names are the Step Functions error names the ASL matches."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError


class PipelineError(Exception):
    """Base class; `http_status` is what the API answers when the execution fails with it."""

    http_status = 502


class InvalidRequest(PipelineError):
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


class NoTierAvailable(PipelineError):
    """Every feasible candidate was tried and failed."""

    http_status = 503


class TierUnavailable(PipelineError):
    """The chosen tier/node could not serve the request; the pipeline tries the next fallback."""

    http_status = 503


class ModelIntegrityError(TierUnavailable):
    """A model artifact did not match its registered sha256; it is never loaded or served."""


HTTP_STATUS_BY_ERROR: dict[str, int] = {
    cls.__name__: cls.http_status
    for cls in (InvalidRequest, NoFeasibleRoute, NoTierAvailable, TierUnavailable)
}


def field_problems(error: ValidationError) -> list[dict[str, str]]:
    """Turn a pydantic error into [{"field": "sla.max_latency_ms", "problem": "..."}]."""
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(body)"
        problems.append({"field": location, "problem": item["msg"]})
    return problems


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
