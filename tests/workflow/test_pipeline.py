"""The deployed ASL executed offline by moto, with the six real handlers and real MEC nodes."""

import json
import time

from mecroute.adapters.aws import client
from mecroute.local.runtime import OfflineRuntime

# An abstract-algebra question in MMLU's format: the complexity model rates it hard.
HARD_PROMPT = (
    "Statement 1 | Every group of order 4 is cyclic. Statement 2 | Every abelian group is "
    "cyclic. A. True, True B. False, False C. True, False D. False, True Answer:"
)
ALL_AGENT_STATES = [
    "AnalyzeContext",
    "AssessResources",
    "RouteRequest",
    "PrepareModel",
    "Execute",
    "RecordOutcome",
]


def test_simple_prompt_runs_through_all_six_agents_on_device_or_mec(runtime: OfflineRuntime):
    # Kept at the edge by strict privacy (at list prices the cloud would win it otherwise)
    sla_ms = 5000  # the offline path alone may take a second or two on a loaded machine
    run = runtime.run(
        {
            "prompt": "What is the capital of France?",
            "privacy": "strict",
            "sla": {"max_latency_ms": sla_ms},
        }
    )

    assert run.status == "SUCCEEDED", run.cause
    assert [s for s in run.states if s in ALL_AGENT_STATES] == ALL_AGENT_STATES
    assert run.output is not None
    assert run.output["result"]["tier"] in {"device", "mec"}
    assert run.output["decision"]["primary"]["tier"] == run.output["result"]["tier"]
    # Judged on the end-to-end time, which wall time decides: consistent, not necessarily met.
    timing = run.output["timing"]
    assert run.output["sla_met"] == (timing["end_to_end_ms"] <= sla_ms)


def test_the_time_counts_from_the_arrival_at_the_api(runtime: OfflineRuntime):
    # Given: API Gateway took the request 2 s before the execution started
    arrived_at_ms = int(time.time() * 1000) - 2000
    sla_ms = 1000

    run = runtime.run(
        {"prompt": "What is 2 + 2?", "privacy": "strict", "sla": {"max_latency_ms": sla_ms}},
        arrived_at_ms=arrived_at_ms,
    )

    # Then: those 2 s are the caller's wait too, and the SLA is judged on them
    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    timing = run.output["timing"]
    assert timing["end_to_end_ms"] >= 2000
    assert timing["routing_overhead_ms"] >= 2000 - timing["execution_ms"]
    assert run.output["sla_met"] is False
    assert "ArrivalUnknown" not in run.states


def test_hard_prompt_needing_high_accuracy_lands_in_the_cloud(runtime: OfflineRuntime):
    run = runtime.run({"prompt": HARD_PROMPT, "sla": {"min_accuracy": 0.7}})

    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    assert run.output["result"]["tier"] == "cloud"
    assert run.output["result"]["cost_usd"] > 0
    rejected = {r["constraint"] for r in run.output["decision"]["rejected"]}
    assert "accuracy" in rejected


def test_strict_privacy_is_served_at_the_edge_never_in_the_cloud(runtime: OfflineRuntime):
    run = runtime.run({"prompt": HARD_PROMPT, "privacy": "strict"})

    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    assert run.output["result"]["tier"] in {"device", "mec"}
    candidates = run.output["decision"]["candidates"]
    assert all(c["tier"] != "cloud" for c in candidates)


def test_strict_privacy_fails_closed_when_only_the_cloud_would_do(
    runtime: OfflineRuntime, invocations
):
    run = runtime.run({"prompt": HARD_PROMPT, "privacy": "strict", "sla": {"min_accuracy": 0.7}})

    assert run.status == "FAILED"
    assert run.error == "NoFeasibleRoute"
    assert "privacy" in (run.cause or "")
    assert "Execute" not in run.states
    assert ("execute", True) not in invocations
    assert ("execute", False) not in invocations
    assert run.record is not None
    assert run.record["error"] == "NoFeasibleRoute"


def test_invalid_input_fails_with_the_field_named_and_no_inference(
    runtime: OfflineRuntime, invocations
):
    run = runtime.run({"prompt": "hi", "sla": {"max_latency_ms": 1}})

    assert run.status == "FAILED"
    assert run.error == "InvalidRequest"
    problems = json.loads(json.loads(run.cause or "{}")["errorMessage"])["problems"]
    assert problems[0]["field"] == "sla.max_latency_ms"
    assert [agent for agent, _ in invocations] == ["context", "monitor"]
    assert run.states == [
        "HasArrivalTime",
        "ArrivalUnknown",
        "AnalyzeContext",
        "RecordRejection",
        "IsRecordStored",
        "ReturnOutcome",
        "InvalidRequest",
    ]


def test_every_request_leaves_exactly_one_decision_record(runtime: OfflineRuntime):
    succeeded = runtime.run({"prompt": "Classify the sentiment: I love it"})
    rejected = runtime.run({"prompt": "", "user_id": "u1"})

    assert runtime.decision_record(succeeded.request_id)["status"] == "succeeded"
    assert runtime.decision_record(rejected.request_id)["error"] == "InvalidRequest"


def test_a_repeated_request_is_answered_from_the_response_cache(runtime: OfflineRuntime):
    request = {"prompt": "Translate 'good morning' to French", "user_id": "cache-test"}
    first = runtime.run(request)
    second = runtime.run(request)

    assert first.output is not None
    assert second.output is not None
    assert first.output["result"]["from_cache"] is False
    assert second.output["result"]["from_cache"] is True
    assert second.output["result"]["output"] == first.output["result"]["output"]


def test_the_caller_is_answered_what_describe_execution_answers(runtime: OfflineRuntime):
    # Given one execution that succeeds and one that fails (moto signals the end of each)
    runs = [runtime.run({"prompt": "What is 2 + 2?"}), runtime.run({"prompt": ""})]
    for run in runs:
        # When the execution is described through the Step Functions API afterwards
        described = client("stepfunctions").describe_execution(executionArn=run.execution_arn)
        # Then the caller was told the same status, output, error and cause
        assert run.status == described["status"]
        assert run.output == (json.loads(described["output"]) if "output" in described else None)
        assert (run.error, run.cause) == (described.get("error"), described.get("cause"))
    assert [run.status for run in runs] == ["SUCCEEDED", "FAILED"]
