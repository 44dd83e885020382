"""Pipeline errors: HTTP statuses and the JSON error body the API returns."""

from __future__ import annotations

import json

from mecroute.domain.errors import (
    HTTP_STATUS_BY_ERROR,
    InvalidRequest,
    ModelIntegrityError,
    TierUnavailable,
    error_body,
)


def lambda_cause(error: Exception) -> str:
    """What Step Functions puts in `cause` when a Lambda task raised `error`."""
    return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})


def test_statuses_by_error_name() -> None:
    assert HTTP_STATUS_BY_ERROR == {
        "InvalidRequest": 400,
        "NoFeasibleRoute": 422,
        "BudgetExceeded": 402,
        "NoTierAvailable": 503,
        "TierUnavailable": 503,
        "IdempotencyKeyReused": 422,
        "RecordNotStored": 503,
        "StateDataLimitExceeded": 502,
    }


def test_integrity_failure_is_retried_as_an_unavailable_tier() -> None:
    assert issubclass(ModelIntegrityError, TierUnavailable)


def test_invalid_request_body_lists_the_problems() -> None:
    error = InvalidRequest([{"field": "sla.max_latency_ms", "problem": "too small"}])

    body = error_body("InvalidRequest", lambda_cause(error))

    assert body == {
        "error": "InvalidRequest",
        "message": "invalid request",
        "problems": [{"field": "sla.max_latency_ms", "problem": "too small"}],
    }


def test_plain_text_error_message_becomes_the_message() -> None:
    body = error_body("TierUnavailable", lambda_cause(TierUnavailable("node down")))

    assert body == {"error": "TierUnavailable", "message": "node down"}


def test_non_json_cause_becomes_the_message() -> None:
    assert error_body("States.Timeout", "took too long") == {
        "error": "States.Timeout",
        "message": "took too long",
    }


def test_missing_cause_gives_just_the_error() -> None:
    assert error_body("NoFeasibleRoute", None) == {"error": "NoFeasibleRoute"}


def test_non_object_json_cause_is_wrapped() -> None:
    assert error_body("X", "[1, 2]") == {"error": "X", "message": "[1, 2]"}
