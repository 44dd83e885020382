"""MEC node faults, each injected into a real node process while a request is on its way to
it: killed mid-request, hung, answering errors, or asked to load a tampered artifact. The
request is answered by a fallback within its SLA or fails with a named error, and it leaves
exactly one decision record and one outcome per attempt on the stream."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from mecroute.adapters.aws import client
from mecroute.domain.request import ServiceLevel
from mecroute.local.api import response_for
from mecroute.local.fleet import NodeProcess
from mecroute.local.runtime import OfflineRuntime, Run

from .faults import (
    ErrorServer,
    decision_items,
    freeze,
    handler_wrapped,
    node_request,
    node_serving,
    stream_events,
    thaw,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def fresh_request() -> dict[str, Any]:
    """A prompt never seen before: a response-cache hit would never reach the node. Strict
    privacy keeps it on MEC nodes (at list prices the cloud would win it otherwise)."""
    return {
        "prompt": f"Summarise: the meeting moved to Tuesday at noon ({uuid.uuid4()}).",
        "privacy": "strict",
    }


def assert_answered_by_a_fallback(run: Run, failed_node: str) -> dict[str, Any]:
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output is not None
    assert run.output["result"]["node_id"] != failed_node
    # Judged on the end-to-end time, which wall time decides: consistent, not necessarily met.
    timing = run.output["timing"]
    assert run.output["sla_met"] == (timing["end_to_end_ms"] <= ServiceLevel().max_latency_ms)
    (failure,) = run.output["failures"]
    assert failure["node_id"] == failed_node
    assert failure["error"] == "TierUnavailable"
    assert failure["elapsed_ms"] is not None
    return failure


def assert_recorded_once(runtime: OfflineRuntime, run: Run) -> None:
    """One decision record; on the stream, each attempt's outcome exactly once."""
    (item,) = decision_items(runtime, run.request_id)
    assert item["status"]["S"] == ("succeeded" if run.status == "SUCCEEDED" else "failed")
    events = stream_events(runtime, run.request_id)
    ids = [event["event_id"] for event in events]
    assert len(ids) == len(set(ids))
    record = run.output or run.record
    assert record is not None
    assert len(events) == len(record["failures"]) + 1


def test_a_node_killed_mid_request_is_answered_by_the_next_candidate(
    runtime: OfflineRuntime,
) -> None:
    # Given: the chosen node is holding the request (frozen, its socket still accepting)
    # when it is killed
    killed: list[str] = []

    def kill_while_serving(real: Any) -> Any:
        def execute(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if not killed and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                freeze(node)
                threading.Timer(0.3, node.process.kill).start()
                killed.append(target["node_id"])
            return real(event, context)

        return execute

    # When
    with handler_wrapped(runtime, "execute", kill_while_serving):
        run = runtime.run(fresh_request())

    # Then
    assert killed, "the router did not pick a MEC node first"
    failure = assert_answered_by_a_fallback(run, killed[0])
    assert "failed" in failure["cause"]  # connection reset: no answer ever came
    assert_recorded_once(runtime, run)


def test_a_hung_node_is_given_up_on_in_time_for_a_fallback_to_meet_the_sla(
    runtime: OfflineRuntime,
) -> None:
    # Given: the chosen node stops answering after routing chose it (a slow node, seen from
    # the caller: nothing comes back)
    frozen: list[Any] = []

    def freeze_target(real: Any) -> Any:
        def execute(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if not frozen and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                freeze(node)
                frozen.append(node)
            return real(event, context)

        return execute

    # When: the default SLA, 3 s
    try:
        with handler_wrapped(runtime, "execute", freeze_target):
            run = runtime.run(fresh_request())
    finally:
        for node in frozen:
            thaw(node)

    # Then: the node got half the SLA, then the next candidate answered within the rest
    assert frozen, "the router did not pick a MEC node first"
    failure = assert_answered_by_a_fallback(run, frozen[0].profile.node_id)
    assert "timed out" in failure["cause"]
    assert_recorded_once(runtime, run)


def test_a_node_answering_errors_is_left_for_the_next_candidate(
    runtime: OfflineRuntime,
) -> None:
    # Given: after routing, the chosen node's process is replaced by one answering 500s (its
    # health check still says ok)
    broken: list[ErrorServer] = []
    replaced: list[str] = []

    def replace_target(real: Any) -> Any:
        def execute(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if not replaced and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                health = _health(node)
                node.stop()
                server = ErrorServer(node.port)
                server.start(health)
                broken.append(server)
                replaced.append(target["node_id"])
            return real(event, context)

        return execute

    try:
        with handler_wrapped(runtime, "execute", replace_target):
            run = runtime.run(fresh_request())
    finally:
        for server in broken:
            server.stop()

    assert replaced, "the router did not pick a MEC node first"
    failure = assert_answered_by_a_fallback(run, replaced[0])
    assert "answered 500" in failure["cause"]
    assert broken[0].infer_calls == 1  # given up on at once, not hammered
    assert_recorded_once(runtime, run)


def test_a_tampered_artifact_is_never_loaded_and_the_request_fails_cleanly(
    runtime: OfflineRuntime,
) -> None:
    # Given: edge-small-v1 is only warm (evicted everywhere) and its artifact in S3 no longer
    # matches the registered sha256
    model = "edge-small-v1"
    key = f"models/{model}/1/model.onnx"
    s3 = client("s3")
    bucket = runtime.names.artifacts_bucket
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    had_it = [node for node in runtime.nodes if model in _health(node)["loaded_models"]]
    for node in had_it:
        node_request(node, "DELETE", f"/models/{model}")
    s3.put_object(Bucket=bucket, Key=key, Body=original[:-64] + b"\x00" * 64)
    try:
        # When: the caller insists on that model
        run = runtime.run({"prompt": "Summarise: lunch is at one.", "model_preference": model})
        serving_it = [n for n in runtime.nodes if model in _health(n)["loaded_models"]]
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)
        for node in had_it:
            node_request(node, "POST", f"/models/{model}/load")

    # Then: every node refused the artifact, none serves it, and the request failed by name
    assert run.status == "FAILED", run.output
    assert run.error == "NoTierAvailable"
    status, body = response_for(run)
    assert (status, body["error"]) == (503, "NoTierAvailable")
    record = run.record
    assert record is not None
    assert record["failures"]
    assert {f["error"] for f in record["failures"]} == {"ModelIntegrityError"}
    assert all(f["model_id"] == model for f in record["failures"])
    assert all("sha256" in f["cause"] for f in record["failures"])
    assert serving_it == []
    assert_recorded_once(runtime, run)


def _health(node: NodeProcess) -> dict[str, Any]:
    return node_request(node, "GET", "/health")
