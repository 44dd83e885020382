"""The Lambda handlers in-process against moto's DynamoDB, S3 and Kinesis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.builders import past_record

from mecroute.adapters.aws import client
from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoNodeDirectory, DynamoResponseCache
from mecroute.agents.cache import cache_key
from mecroute.domain.errors import AlreadyRecorded, InvalidRequest
from mecroute.domain.messages import (
    CachePlan,
    ContextAnalysis,
    ExecutionResult,
    MonitorRecord,
    RecordReceipt,
    ResourceSnapshot,
    RoutingDecision,
)
from mecroute.domain.registry import NodeRecord
from mecroute.domain.tasks import Attempts
from mecroute.lambda_support.settings import MissingConfiguration
from mecroute.local.lambdas import Handler, load_handler

from .conftest import LAMBDAS_DIR, Aws

pytestmark = pytest.mark.filterwarnings(
    # Agents that publish no metric of their own make Powertools warn on every call.
    "ignore:No application metrics to publish:UserWarning"
)

Invoke = Callable[[str, dict[str, Any]], Any]
Events = Callable[[str], dict[str, Any]]


def kinesis_records(stream: str) -> list[dict[str, Any]]:
    kinesis = client("kinesis")
    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    return [json.loads(record["Data"]) for record in records]


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for line in stdout.splitlines():
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            lines.append(parsed)
    return lines


# -- context -------------------------------------------------------------------------------------


def test_context_handler_rejects_an_empty_prompt(invoke: Invoke) -> None:
    with pytest.raises(InvalidRequest) as caught:
        invoke("context", {"request_id": "r1", "request": {"prompt": ""}})

    assert [p["field"] for p in caught.value.problems] == ["prompt"]


def test_context_handler_rejects_a_task_without_request_id(invoke: Invoke) -> None:
    with pytest.raises(InvalidRequest) as caught:
        invoke("context", {"request": {"prompt": "hi"}})

    assert caught.value.problems == [{"field": "request_id", "problem": "Field required"}]


def test_context_handler_analyses_a_valid_request(invoke: Invoke, sample_event: Events) -> None:
    task = sample_event("analyze_context")

    output = invoke("context", task)

    analysis = ContextAnalysis.model_validate(output)
    assert analysis.request_id == task["request_id"]
    assert analysis.request.user_id == "alice"
    assert analysis.task_type == "qa"
    assert analysis.recent_requests == 0


def test_context_handler_counts_the_users_recent_requests(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    # Given alice had one request recorded a minute ago
    DynamoDecisionLog(aws.names.decisions_table).put(
        past_record("earlier", "alice", time.time() - 60)
    )

    output = invoke("context", sample_event("analyze_context"))

    assert output["recent_requests"] == 1


# -- resource ------------------------------------------------------------------------------------


def test_resource_handler_reports_registry_and_unreachable_nodes(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    # Given a registered node nobody is listening for
    DynamoNodeDirectory(aws.names.nodes_table).put(
        NodeRecord(
            node_id="ghost", site="nowhere", endpoint="http://127.0.0.1:1", region="us-east-1"
        )
    )

    output = invoke("resource", sample_event("assess_resources"))

    snapshot = ResourceSnapshot.model_validate(output)
    assert {m.model_id for m in snapshot.models} == set(aws.specs)
    (node,) = snapshot.nodes
    assert node.node_id == "ghost"
    assert node.healthy is False
    assert "health probe failed" in node.unhealthy_reason
    assert snapshot.cloud.available is True


# -- router --------------------------------------------------------------------------------------


def test_router_handler_returns_a_decision(invoke: Invoke, sample_event: Events) -> None:
    output = invoke("router", sample_event("route_request"))

    decision = RoutingDecision.model_validate(output)
    assert decision.request_id == "evt-0001"
    assert decision.primary is not None
    assert decision.candidates[0] == decision.primary
    weights = decision.weights
    assert (weights.latency, weights.accuracy, weights.cost, weights.availability) == (
        pytest.approx((0.4, 0.3, 0.2, 0.1))
    )


def test_router_handler_uses_weights_from_the_environment(
    invoke: Invoke, sample_event: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIGHT_LATENCY", "0")
    monkeypatch.setenv("WEIGHT_COST", "0")
    monkeypatch.setenv("WEIGHT_AVAILABILITY", "0")

    output = invoke("router", sample_event("route_request"))

    assert output["weights"]["accuracy"] == pytest.approx(1.0)
    assert output["primary"]["tier"] == "cloud"


ALL_WEIGHTS = ("WEIGHT_LATENCY", "WEIGHT_ACCURACY", "WEIGHT_COST", "WEIGHT_AVAILABILITY")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"WEIGHT_LATENCY": "40"}, "WEIGHT_LATENCY"),  # percent style, named by its variable
        (dict.fromkeys(ALL_WEIGHTS, "0"), "WEIGHT"),  # all zero
        ({"WEIGHT_COST": "-1"}, "WEIGHT_COST"),  # negative
    ],
    ids=["percent-style", "all-zero", "negative"],
)
def test_router_handler_rejects_bad_weight_settings_as_configuration(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], named: str
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(MissingConfiguration, match=named):
        load_handler(LAMBDAS_DIR, "router")


# -- cache ---------------------------------------------------------------------------------------


def test_cache_handler_answers_a_repeat_from_the_response_cache(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    # Given the response cache holds an answer for this prompt on the target model
    task = sample_event("prepare_model")
    context = ContextAnalysis.model_validate(task["context"])
    model_id = task["target"]["model_id"]
    stored = ExecutionResult(
        request_id="earlier",
        tier="mec",
        node_id="mec-a",
        model_id=model_id,
        output="cached answer",
        latency_ms=80.0,
        compute_ms=30.0,
        cost_usd=0.00001,
    )
    DynamoResponseCache(aws.names.cache_table).put(
        cache_key(context, model_id), stored, time.time() + 600
    )

    # When the cache agent prepares the target
    plan = CachePlan.model_validate(invoke("cache", task))

    # Then it is a cache hit carrying the stored answer
    assert plan.action == "cache_hit"
    assert plan.cached == stored


def test_cache_handler_without_an_entry_leaves_a_hot_target_alone(
    invoke: Invoke, sample_event: Events
) -> None:
    plan = CachePlan.model_validate(invoke("cache", sample_event("prepare_model")))

    assert (plan.action, plan.placement) == ("none", "hot")
    assert plan.cached is None


# -- execute -------------------------------------------------------------------------------------


def test_execute_handler_runs_the_device_model_from_s3(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    task = sample_event("execute_device")
    spec = aws.specs[task["target"]["model_id"]]

    result = ExecutionResult.model_validate(invoke("execute", task))

    assert (result.tier, result.model_id) == ("device", spec.model_id)
    assert result.output.startswith(f"[{spec.model_id}, simulated]")
    assert 0 < result.output_tokens == len(result.output.split())
    assert result.cost_usd == 0.0
    directive = result.device_directive
    assert directive is not None
    assert (directive.artifact_key, directive.sha256) == (spec.artifact_key, spec.sha256)
    assert directive.installed is False


def test_execute_handler_caches_a_shareable_answer(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    task = sample_event("execute_device")
    context = ContextAnalysis.model_validate(task["context"])

    result = ExecutionResult.model_validate(invoke("execute", task))

    cached = DynamoResponseCache(aws.names.cache_table).get(
        cache_key(context, result.model_id), time.time()
    )
    assert cached == result


# -- monitor -------------------------------------------------------------------------------------


def test_monitor_handler_composes_the_answer_without_storing_it(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    answer = MonitorRecord.model_validate(invoke("monitor", sample_event("record_outcome")))

    assert (answer.request_id, answer.status, answer.sla_met) == ("evt-0001", "succeeded", True)
    assert answer.result is not None
    assert answer.result.model_id == "edge-small-v1"
    # Stored later, off the caller's path, by RecordOutcome's event
    assert DynamoDecisionLog(aws.names.decisions_table).get("evt-0001") is None
    assert kinesis_records(aws.names.metrics_stream) == []


def test_monitor_handler_stores_the_answer_in_dynamodb_and_kinesis_once(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    answer = invoke("monitor", sample_event("record_outcome"))
    event = {"action": "store", "record": answer}

    receipt = RecordReceipt.model_validate(invoke("monitor", event))
    repeated = RecordReceipt.model_validate(invoke("monitor", event))  # delivered twice

    assert receipt.stored is True
    assert receipt.unstored is None
    assert repeated == receipt
    stored = DynamoDecisionLog(aws.names.decisions_table).get("evt-0001")
    assert stored is not None
    assert stored.model_dump(mode="json") == answer
    (outcome,) = kinesis_records(aws.names.metrics_stream)
    assert outcome["kind"] == "outcome"
    assert outcome["request_id"] == "evt-0001"
    assert outcome["event_id"] == "evt-0001:0"
    assert outcome["success"] is True
    assert outcome["tier"] == "mec"


def test_the_decisions_table_keeps_the_first_record_of_a_request(aws: Aws) -> None:
    log = DynamoDecisionLog(aws.names.decisions_table)
    first = past_record("once", "alice", time.time() - 60)
    log.put(first)

    with pytest.raises(AlreadyRecorded):
        log.put(first.model_copy(update={"recorded_at": time.time()}))

    assert log.get("once") == first


def test_monitor_handler_emits_emf_metrics_when_it_stores(
    invoke: Invoke, sample_event: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = invoke("monitor", sample_event("record_outcome"))
    capsys.readouterr()

    invoke("monitor", {"action": "store", "record": answer})

    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 1
    emf = lines[0]
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "MecRoute"
    assert {m["Name"] for m in directive["Metrics"]} >= {"Requests", "Latency", "SlaMet"}
    assert emf["Tier"] == "mec"
    assert emf["Requests"] == [1.0]


def test_monitor_handler_emits_nothing_when_metrics_are_disabled(
    invoke: Invoke,
    sample_event: Events,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    answer = invoke("monitor", sample_event("record_outcome"))

    invoke("monitor", {"action": "store", "record": answer})

    assert emf_lines(capsys.readouterr().out) == []


def test_monitor_handler_moves_past_an_attempt_failure_without_storing_anything(
    invoke: Invoke, sample_event: Events, aws: Aws
) -> None:
    """The failure's event leaves with the request's record: a stream outage here cannot end
    the request halfway through its fallbacks."""
    task = sample_event("record_attempt_failure")

    attempts = Attempts.model_validate(invoke("monitor", task))

    assert attempts.index == 1
    assert attempts.failures[0].error == "TierUnavailable"
    assert attempts.failures[0].tier == task["target"]["tier"]
    assert DynamoDecisionLog(aws.names.decisions_table).get("evt-0001") is None
    assert kinesis_records(aws.names.metrics_stream) == []


def test_monitor_handler_rejects_an_unknown_action(invoke: Invoke) -> None:
    with pytest.raises(InvalidRequest) as caught:
        invoke("monitor", {"action": "celebrated", "request_id": "x"})

    (problem,) = caught.value.problems
    assert problem["field"] == "action"
    assert "celebrated" in problem["problem"]


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["cache", "execute", "resource"])
def test_handler_import_without_models_table_names_the_variable(
    agent: str, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELS_TABLE")

    with pytest.raises(MissingConfiguration, match="MODELS_TABLE"):
        load_handler(LAMBDAS_DIR, agent)


def test_handler_import_with_every_variable_set_succeeds(aws: Aws) -> None:
    handler: Handler = load_handler(LAMBDAS_DIR, "monitor")

    assert callable(handler)
