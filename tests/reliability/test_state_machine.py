"""The ASL's failure handling, read from the file itself: every task is bounded and retried,
every way out of the pipeline records the request (a success asynchronously, after its answer
is built), and what a failing monitor leaves in the dead-letter queue is exactly the task it
would have recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mecroute.domain.tasks import RequestSummary
from mecroute.local.runtime import ASL_PATH

STATES: dict[str, Any] = json.loads(ASL_PATH.read_text())["States"]
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
RECORD_STATES = sorted(
    name
    for name, state in STATES.items()
    if state.get("Resource") == "${MonitorFunctionArn}" and name != "RecordAttemptFailure"
)


def test_every_task_has_a_timeout_and_retries_transient_errors() -> None:
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        assert 0 < state["TimeoutSeconds"] <= 60, name
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        if state["Resource"].endswith("FunctionArn}") or "lambda:invoke" in state["Resource"]:
            assert retried >= LAMBDA_ERRORS, name


def test_the_five_ways_out_each_record_the_request() -> None:
    assert RECORD_STATES == [
        "ComposeAnswer", "RecordError", "RecordFailure", "RecordNoRoute", "RecordRejection",
    ]  # fmt: skip
    for name in RECORD_STATES:
        if name != "ComposeAnswer":
            assert STATES[name]["Next"] == "IsRecordStored", name
    assert STATES["Execute"]["Next"] == "ComposeAnswer"
    assert STATES["ComposeAnswer"]["Next"] == "RecordOutcome"


def test_a_success_is_answered_without_waiting_for_its_record() -> None:
    # RecordOutcome hands the built answer to the monitor as a Lambda event and waits for
    # nothing but Lambda's acceptance; the answer is what ComposeAnswer built.
    record = STATES["RecordOutcome"]
    assert record["Resource"] == "arn:aws:states:::lambda:invoke"
    assert record["Parameters"] == {
        "FunctionName": "${MonitorFunctionArn}",
        "InvocationType": "Event",
        "Payload": {"action": "store", "record.$": STATES["ComposeAnswer"]["ResultPath"]},
    }
    assert record["ResultPath"] is None
    assert record["Next"] == "Answer"
    assert STATES["Answer"]["OutputPath"] == STATES["ComposeAnswer"]["ResultPath"]
    # Lambda refusing the event (after retries) parks it and still answers.
    (catch,) = record["Catch"]
    parked = STATES[catch["Next"]]
    event = record["Parameters"]["Payload"]
    assert parked["Parameters"]["MessageBody"] == {"unrecorded_task": event}
    assert parked["Next"] == "Answer"


@pytest.mark.parametrize("name", RECORD_STATES)
def test_a_failing_monitor_parks_exactly_the_task_it_was_given(name: str) -> None:
    state = STATES[name]
    catch = state["Catch"][-1]
    assert catch["ErrorEquals"] == ["States.ALL"]
    dead_letter = STATES[catch["Next"]]
    assert dead_letter["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert dead_letter["Parameters"]["QueueUrl"] == "${RecordDeadLettersUrl}"
    parked = dead_letter["Parameters"]["MessageBody"]
    assert parked["unrecorded_task"] == state["Parameters"]
    # What failed (the error's name only: its cause may quote the task) and when
    assert parked["failed.$"] == f"{catch['ResultPath']}.Error"
    assert parked["parked_at.$"] == "$$.State.EnteredTime"
    assert dead_letter["Next"] == "RecordNotStored"


@pytest.mark.parametrize("name", RECORD_STATES)
def test_a_record_task_names_its_request_by_its_summary_never_by_its_context(name: str) -> None:
    # The task is what a failing monitor leaves in the dead-letter queue for 14 days: the
    # request's summary (its prompt's hash), never the context that holds the prompt.
    parameters = STATES[name]["Parameters"]
    assert not any(value == "$.context" for value in parameters.values()), name
    if "request" in parameters:
        summary = parameters["request"]
        assert {key.removesuffix(".$") for key in summary} == set(RequestSummary.model_fields)
        assert summary["prompt_sha256.$"] == "$.context.prompt_sha256"
        assert all(path != "$.context.request" for path in summary.values())


def test_an_unstored_record_is_parked_before_the_answer() -> None:
    (not_stored,) = STATES["IsRecordStored"]["Choices"]
    assert not_stored == {
        "Variable": "$.recorded.stored", "BooleanEquals": False, "Next": "DeadLetterRecord",
    }  # fmt: skip
    assert STATES["DeadLetterRecord"]["Parameters"]["MessageBody.$"] == "$.recorded.unstored"
    assert STATES["DeadLetterRecord"]["Next"] == "ReturnOutcome"


def test_the_states_before_routing_record_any_failure() -> None:
    for name in ("AnalyzeContext", "AssessResources", "RouteRequest"):
        assert STATES[name]["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordError",
        }, name  # fmt: skip


def test_a_state_overflowing_the_data_limit_is_recorded_as_an_error() -> None:
    # States.ALL does not catch States.DataLimitExceeded: each agent's state names it.
    for name in (
        "AnalyzeContext", "AssessResources", "RouteRequest", "PrepareModel", "Execute",
        "ComposeAnswer",
    ):  # fmt: skip
        assert {
            "ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": "$.error",
            "Next": "RecordError",
        } in STATES[name]["Catch"], name  # fmt: skip


def test_an_idempotent_duplicate_in_flight_is_waited_for() -> None:
    (waiting,) = [
        retrier
        for retrier in STATES["Execute"]["Retry"]
        if retrier["ErrorEquals"] == ["IdempotencyAlreadyInProgressError"]
    ]
    # Long enough for the first execution to finish: 1 + 1.5 + 2.25 + ... about 13 s in all.
    assert sum(min(5, 1.5**n) for n in range(waiting["MaxAttempts"])) > 10
