"""Faults in the AWS services around the pipeline: Bedrock throttling (botocore's Stubber on
a real bedrock-runtime client), DynamoDB throttling and partial Kinesis PutRecords failures
(refused at botocore's send step, so the SDK's retries run), and the monitor Lambda itself
failing. The caller is answered or failed by name; the monitor record is retried, parked in
the record dead-letter queue, and redriven to exactly one decision record."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mecroute.adapters.aws import CLIENT_CONFIG
from mecroute.adapters.cloud import BedrockCloud
from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.domain.request import ServiceLevel
from mecroute.local.api import response_for
from mecroute.local.runtime import OfflineRuntime, Run
from mecroute.ops.redrive import redrive_queue

from .faults import (
    dead_letter_queue,
    decision_items,
    drain,
    handler_wrapped,
    node_request,
    node_serving,
    put_records_partly_refused,
    stream_events,
    table_throttled,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ACCURACY_FIRST = {"latency": 0.0, "accuracy": 1.0, "cost": 0.0, "availability": 0.0}


def prompt(text: str) -> str:
    """Unique, so that no earlier answer comes back from the response cache."""
    return f"{text} ({uuid.uuid4()})"


def redrive(runtime: OfflineRuntime) -> tuple[int, int]:
    report = redrive_queue(
        dead_letter_queue(runtime),
        DynamoDecisionLog(runtime.names.decisions_table),
        KinesisMetricsStream(runtime.names.metrics_stream),
    )
    return report.stored, report.still_unstored


def assert_redriven_twice_into_one_record(
    runtime: OfflineRuntime, run: Run, parked: dict[str, Any]
) -> None:
    """The parked message delivered twice by SQS (at least once) and redriven: exactly one
    decision record, the answer the caller got, and its outcome event on the stream once."""
    queue = dead_letter_queue(runtime)
    queue.send(parked)
    queue.send(parked)
    assert redrive(runtime) == (2, 0)
    assert len(decision_items(runtime, run.request_id)) == 1
    stored = DynamoDecisionLog(runtime.names.decisions_table).get(run.request_id)
    assert stored is not None
    assert stored.model_dump(mode="json") == run.output
    assert len(stream_events(runtime, run.request_id)) == 1
    assert queue.depth() == 0


# -- the cloud tier -------------------------------------------------------------------------------


@contextmanager
def bedrock_throttling(runtime: OfflineRuntime, throttled_calls: int) -> Iterator[Stubber]:
    """The execute agent's cloud tier becomes Bedrock (BedrockCloud over a real bedrock-runtime
    client) whose Converse answers ThrottlingException, through botocore's Stubber."""
    assert runtime.lambdas is not None
    execute = sys.modules[runtime.lambdas.handlers["execute"].__module__]
    bedrock = boto3.client("bedrock-runtime", config=CLIENT_CONFIG)
    stubber = Stubber(bedrock)
    for _ in range(throttled_calls):
        stubber.add_client_error(
            "converse",
            service_error_code="ThrottlingException",
            service_message="Too many requests, please wait before trying again.",
            http_status_code=429,
        )
    real_tiers = execute.tiers
    execute.tiers = dataclasses.replace(
        real_tiers, cloud=BedrockCloud(bedrock, "anthropic.claude-3-haiku-20240307-v1:0")
    )
    try:
        with stubber:
            yield stubber
    finally:
        execute.tiers = real_tiers


def test_bedrock_throttling_moves_the_request_to_the_next_candidate(
    runtime: OfflineRuntime,
) -> None:
    # Given: a request that ranks the cloud first (accuracy is all it weighs)
    request = {"prompt": prompt("Explain why the sky is blue."), "weights": ACCURACY_FIRST}

    # When: Bedrock throttles it
    with bedrock_throttling(runtime, throttled_calls=1) as stubber:
        run = runtime.run(request)
        stubber.assert_no_pending_responses()  # Converse was called, once

    # Then: a MEC candidate answered, within the SLA, and the throttling is on record
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output is not None
    assert run.output["decision"]["primary"]["tier"] == "cloud"
    assert run.output["result"]["tier"] != "cloud"
    # Judged on the end-to-end time, which wall time decides: consistent, not necessarily met.
    timing = run.output["timing"]
    assert run.output["sla_met"] == (timing["end_to_end_ms"] <= ServiceLevel().max_latency_ms)
    (failure,) = run.output["failures"]
    assert (failure["tier"], failure["error"]) == ("cloud", "TierUnavailable")
    assert "ThrottlingException" in failure["cause"]
    assert len(decision_items(runtime, run.request_id)) == 1


def test_bedrock_throttling_with_no_other_candidate_fails_cleanly_by_name(
    runtime: OfflineRuntime,
) -> None:
    # Given: a request only the cloud model may serve
    request = {"prompt": prompt("Explain tides."), "model_preference": "cloud-frontier-v1"}

    with bedrock_throttling(runtime, throttled_calls=1) as stubber:
        run = runtime.run(request)
        stubber.assert_no_pending_responses()

    assert (run.status, run.error) == ("FAILED", "NoTierAvailable")
    status, body = response_for(run)
    assert (status, body["error"]) == (503, "NoTierAvailable")
    assert run.record is not None
    (failure,) = run.record["failures"]
    assert failure["tier"] == "cloud"
    assert "ThrottlingException" in failure["cause"]
    (item,) = decision_items(runtime, run.request_id)
    assert item["status"]["S"] == "failed"


# -- DynamoDB -------------------------------------------------------------------------------------


def test_a_throttled_decisions_table_parks_the_record_and_redrive_stores_it_once(
    runtime: OfflineRuntime,
) -> None:
    # Given: the decisions table refuses every call: the context agent's history read and
    # the monitor's write
    request = {"prompt": prompt("Summarise: the bus leaves at nine.")}
    with table_throttled(runtime.names.decisions_table, ("Query", "PutItem")) as throttled:
        # When
        run = runtime.run(request)
        runtime.settle()  # RecordOutcome's event, stored off the caller's path

    # Then: the caller has its answer (as from a user with no history); the SDK retried
    # before giving up; the monitor parked the record in the dead-letter queue, and only there
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output is not None
    assert throttled.refused["Query"] >= 2
    assert throttled.refused["PutItem"] >= 2
    assert decision_items(runtime, run.request_id) == []
    queue = dead_letter_queue(runtime)
    assert queue.depth() == 1
    # The stream took the outcome event: only the record is parked, not the event again.
    assert len(stream_events(runtime, run.request_id)) == 1

    # When: the table is back and on-call redrives the queue, whose message SQS delivers
    # twice (at-least-once)
    (parked,) = drain(queue)
    assert parked["record"]["request_id"] == run.request_id
    assert "ProvisionedThroughputExceededException" in parked["reason"]
    assert_redriven_twice_into_one_record(runtime, run, parked)


# -- Kinesis --------------------------------------------------------------------------------------


@contextmanager
def one_fallback(runtime: OfflineRuntime) -> Iterator[list[tuple[str, str]]]:
    """The first MEC target's model is evicted just before it runs (the node answers 404
    ModelNotLoaded), so the request has two attempts and two stream events."""
    evicted: list[tuple[str, str]] = []

    def wrap(real: Any) -> Any:
        def execute(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if not evicted and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                node_request(node, "DELETE", f"/models/{target['model_id']}")
                evicted.append((node.endpoint, target["model_id"]))
            return real(event, context)

        return execute

    with handler_wrapped(runtime, "execute", wrap):
        yield evicted
    for endpoint, model in evicted:
        node_request(node_serving(runtime, endpoint), "POST", f"/models/{model}/load")


def second_event(event: dict[str, Any]) -> bool:
    """The request's own outcome, after its failed attempt's event."""
    return str(event.get("event_id", "")).endswith(":1")


def test_a_partial_put_records_failure_resends_only_the_refused_event(
    runtime: OfflineRuntime,
) -> None:
    # Given: a request with one fallback (two events) and a stream that refuses the second
    # event once
    request = {"prompt": prompt("Summarise: the ferry is late."), "privacy": "strict"}  # MEC first
    with (
        one_fallback(runtime) as evicted,
        put_records_partly_refused(
            runtime.names.metrics_stream, refused=second_event, calls=1
        ) as fault,
    ):
        run = runtime.run(request)
        runtime.settle()

    # Then: the refused event was sent again, alone; every event is on the stream once
    assert evicted
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert [e["event_id"] for e in fault.refused_entries] == [f"{run.request_id}:1"]
    assert fault.seen == 2
    events = stream_events(runtime, run.request_id)
    assert sorted(e["event_id"] for e in events) == [f"{run.request_id}:0", f"{run.request_id}:1"]
    assert len(decision_items(runtime, run.request_id)) == 1


def test_a_stream_that_keeps_refusing_parks_only_the_refused_event(
    runtime: OfflineRuntime,
) -> None:
    request = {
        "prompt": prompt("Summarise: the library shuts early."),
        "privacy": "strict",
    }  # MEC first
    with (
        one_fallback(runtime),
        put_records_partly_refused(runtime.names.metrics_stream, refused=second_event) as fault,
    ):
        run = runtime.run(request)
        runtime.settle()

    # The caller is answered; the record is stored; only the refused event is parked.
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert fault.seen == 3  # the first call and both retries of the refused entry
    assert len(decision_items(runtime, run.request_id)) == 1
    assert [e["event_id"] for e in stream_events(runtime, run.request_id)] == [
        f"{run.request_id}:0"
    ]
    queue = dead_letter_queue(runtime)
    assert queue.depth() == 1

    assert redrive(runtime) == (1, 0)

    events = stream_events(runtime, run.request_id)
    assert sorted(e["event_id"] for e in events) == [f"{run.request_id}:0", f"{run.request_id}:1"]
    assert len(decision_items(runtime, run.request_id)) == 1


# -- the monitor Lambda itself --------------------------------------------------------------


def test_a_failing_monitor_parks_its_task_and_the_request_fails_by_name(
    runtime: OfflineRuntime,
) -> None:
    # Given: the monitor Lambda crashes on every ComposeAnswer (retried, then given up on):
    # there is no answer to give, so the request fails by name
    def crash_on_outcome(real: Any) -> Any:
        def monitor(event: dict[str, Any], context: Any) -> Any:
            if event.get("action") == "succeeded":
                raise MemoryError("Runtime exited with error: signal: killed")
            return real(event, context)

        return monitor

    with handler_wrapped(runtime, "monitor", crash_on_outcome):
        run = runtime.run({"prompt": prompt("Summarise: the pool reopens on Monday.")})

    # Then: a named 503, and the task that would have been recorded waits in the queue
    assert (run.status, run.error) == ("FAILED", "RecordNotStored")
    assert response_for(run)[0] == 503
    assert "DeadLetterOutcome" in run.states
    assert decision_items(runtime, run.request_id) == []
    queue = dead_letter_queue(runtime)
    assert queue.depth() == 1

    # When: the monitor is fixed and the queue redriven, the outcome is recorded once
    assert redrive(runtime) == (1, 0)
    (item,) = decision_items(runtime, run.request_id)
    assert item["status"]["S"] == "succeeded"
    assert len(stream_events(runtime, run.request_id)) == 1


def test_a_monitor_failing_to_store_leaves_the_answer_unchanged_and_redrive_records_it_once(
    runtime: OfflineRuntime,
) -> None:
    # Given: the monitor Lambda crashes on every RecordOutcome event
    stores: list[str] = []

    def crash_on_store(real: Any) -> Any:
        def monitor(event: dict[str, Any], context: Any) -> Any:
            if event.get("action") == "store":
                stores.append(event["record"]["request_id"])
                raise MemoryError("Runtime exited with error: signal: killed")
            return real(event, context)

        return monitor

    with handler_wrapped(runtime, "monitor", crash_on_store):
        run = runtime.run({"prompt": prompt("Summarise: the market opens at eight.")})
        runtime.settle()

    # Then: the caller got the answer it gets from a healthy monitor (status and body)
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert response_for(run) == (200, run.output)
    assert stores == [run.request_id] * 3  # the event and Lambda's two retries
    assert decision_items(runtime, run.request_id) == []
    # Lambda's on-failure record of the event waits in the record dead-letter queue
    queue = dead_letter_queue(runtime)
    (parked,) = drain(queue)
    assert parked["requestContext"]["condition"] == "RetriesExhausted"
    assert parked["requestContext"]["approximateInvokeCount"] == 3
    assert parked["requestPayload"] == {"action": "store", "record": run.output}

    # When: the monitor is back and the queue is redriven; SQS delivers the message twice
    assert_redriven_twice_into_one_record(runtime, run, parked)


def test_a_repeated_event_delivery_records_the_outcome_once(runtime: OfflineRuntime) -> None:
    # Given: Lambda delivers every RecordOutcome event twice (asynchronous invocation is at
    # least once)
    assert runtime.lambdas is not None
    lambdas = runtime.lambdas

    def deliver_twice(real: Any) -> Any:
        def monitor(event: dict[str, Any], context: Any) -> Any:
            if event.get("action") == "store":
                real(event, context)
            return real(event, context)

        return monitor

    with handler_wrapped(runtime, "monitor", deliver_twice):
        run = runtime.run({"prompt": prompt("Summarise: the tram is on time.")})
        lambdas.settle()

    # Then: one record, one outcome event
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert len(decision_items(runtime, run.request_id)) == 1
    assert len(stream_events(runtime, run.request_id)) == 1


def test_an_answer_over_the_state_data_limit_is_recorded_as_a_failed_request(
    runtime: OfflineRuntime,
) -> None:
    # Given: the execute agent answers with more than Step Functions' 256 KB state limit
    def oversized(real: Any) -> Any:
        def execute(event: dict[str, Any], context: Any) -> Any:
            answer = real(event, context)
            return answer | {"output": "x" * 300_000}

        return execute

    with handler_wrapped(runtime, "execute", oversized):
        run = runtime.run({"prompt": prompt("Summarise: the lift is out of order.")})

    # Then: the request fails by name and is on record (States.ALL alone would not catch it)
    assert (run.status, run.error) == ("FAILED", "StateDataLimitExceeded")
    assert response_for(run)[0] == 502
    assert "RecordError" in run.states
    assert run.record is not None
    assert run.record["error"] == "States.DataLimitExceeded"
    assert len(decision_items(runtime, run.request_id)) == 1
