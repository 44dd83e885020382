"""One deadline per request: its SLA counted from arrival. Every attempt waits only for the time
left, an attempt that cannot finish in it is not started, and no timeout outlasts what API
Gateway waits for (29 s)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mecroute.agents.context import parse_request
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.request import API_GATEWAY_LIMIT_S, MAX_SLA_MS
from mecroute.local.api import response_for
from mecroute.local.runtime import OfflineRuntime

from .faults import Handler, handler_wrapped, inferences_counted, no_deadline_grace

ASL = json.loads(
    (Path(__file__).parents[2] / "statemachines" / "inference_pipeline.asl.json").read_text()
)


def _tasks() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}


def test_an_sla_beyond_what_the_regional_api_can_wait_for_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request({"prompt": "hi", "sla": {"max_latency_ms": MAX_SLA_MS + 1}})

    (problem,) = refused.value.problems
    assert problem["field"] == "sla.max_latency_ms"
    assert str(MAX_SLA_MS) in problem["problem"]
    assert parse_request({"prompt": "hi", "sla": {"max_latency_ms": MAX_SLA_MS}})


def test_every_state_timeout_fits_under_the_api_gateway_limit() -> None:
    for name, state in _tasks().items():
        assert state["TimeoutSeconds"] < API_GATEWAY_LIMIT_S, name


def test_the_longest_sla_and_the_wait_for_a_repeat_in_flight_fit_under_the_limit() -> None:
    """After the deadline an idempotent repeat still in flight gives up at its next retry
    (DeadlineExceeded), at most one retry interval later; recording takes about a second."""
    execute = _tasks()["Execute"]
    (in_progress,) = [
        rule
        for rule in execute["Retry"]
        if "IdempotencyAlreadyInProgressError" in rule["ErrorEquals"]
    ]
    assert MAX_SLA_MS / 1000 + in_progress["MaxDelaySeconds"] + 1 < API_GATEWAY_LIMIT_S


def late_by(seconds: float) -> Any:
    """A PrepareModel that takes `seconds` before its first answer (a slow S3, a busy Lambda)."""

    def wrap(real: Handler) -> Handler:
        slept: list[float] = []

        def slow(event: dict[str, Any], context: Any) -> Any:
            if not slept:
                slept.append(seconds)
                time.sleep(seconds)
            return real(event, context)

        return slow

    return wrap


def test_attempts_past_the_deadline_are_not_started_and_the_request_fails_cleanly(
    runtime: OfflineRuntime,
) -> None:
    # Given a request whose time runs out while its first attempt is still being prepared
    body = {"prompt": "Summarise my notes", "privacy": "strict", "sla": {"max_latency_ms": 1500}}
    with (
        no_deadline_grace(runtime),
        handler_wrapped(runtime, "cache", late_by(1.6)),
        inferences_counted(runtime) as calls,
    ):
        run = runtime.run(body)

    # Then no node is asked to start work that cannot finish in time
    assert calls.total == 0
    assert (run.status, run.error) == ("FAILED", "NoTierAvailable")
    status, _answer = response_for(run)
    assert status == 503
    assert run.record is not None
    errors = {failure["error"] for failure in run.record["failures"]}
    assert errors == {"DeadlineExceeded"}, run.record["failures"]
    assert "deadline" in run.record["failures"][0]["cause"]
