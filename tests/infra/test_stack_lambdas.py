"""The Lambdas this stack adds beside the six agents, against moto: the API's reads and
feedback, and the aggregator consuming the metrics stream (the learning loop's writer)."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from tests.unit.builders import rest_event

from mecroute.adapters.aws import client, reset_clients
from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoStatsStore
from mecroute.agents.learning import stat_key
from mecroute.domain.breaker import BreakerPolicy, after_failure, closed
from mecroute.domain.identity import proxy_event_user_id
from mecroute.domain.messages import ExecutionResult, LearnedStatistics, MonitorRecord
from mecroute.local.lambdas import FakeLambdaContext, Handler, load_handler
from mecroute.local.names import Names
from mecroute.local.seed import create_resources

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Names]:
    names = Names()
    environment = {
        **names.moto_environment(REGION),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with mock_aws():
        # Creates the idempotency table too (key IDEMPOTENCY_KEY), as the stack declares it.
        create_resources(names, ROOT / "build" / "zoo")
        yield names
    reset_clients()


def handler(source: str) -> Handler:
    """Import now, inside moto and after the environment is set: settings load at import."""
    return load_handler(ROOT / "lambdas", source)


def call(source: str, event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(source)(event, FakeLambdaContext(function_name=source))
    return response["statusCode"], json.loads(response["body"])


def record_decision(names: Names, request_id: str, user_id: str = "alice") -> MonitorRecord:
    record = MonitorRecord(
        request_id=request_id, user_id=user_id, status="succeeded", decision=None,
        result=ExecutionResult(request_id=request_id, tier="mec", node_id="mec-metro-1",
                               model_id="edge-large-v1", output="Paris", latency_ms=42.0,
                               compute_ms=30.0, cost_usd=0.0001),
        sla_met=True, recorded_at=time.time(),
    )  # fmt: skip
    DynamoDecisionLog(names.decisions_table).put(record)
    return record


def stream_events(names: Names) -> list[dict[str, Any]]:
    kinesis = client("kinesis")
    events = []
    for shard in kinesis.describe_stream(StreamName=names.metrics_stream)["StreamDescription"][
        "Shards"
    ]:
        iterator = kinesis.get_shard_iterator(
            StreamName=names.metrics_stream, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]  # fmt: skip
        events += [
            json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]
        ]
    return events


# -- API reads ------------------------------------------------------------------------------


def test_models_and_nodes_are_listed_as_the_local_api_lists_them(aws: Names):
    status, body = call("api_reads", rest_event("GET", "/v1/models"))
    assert status == 200
    assert {m["model_id"] for m in body["models"]} >= {"edge-large-v1", "cloud-frontier-v1"}
    status, body = call("api_reads", rest_event("GET", "/v1/nodes"))
    assert status == 200
    assert body == {"nodes": [], "breakers": []}  # nodes register themselves when they start


def test_nodes_show_each_breakers_state_reason_and_cooldown(aws: Names):
    store = DynamoBreakerStore(aws.breakers_table)
    failed = closed("mec", "mec-metro-1", "edge-large-v1")
    policy = BreakerPolicy()
    for _ in range(policy.consecutive_failures):
        failed = after_failure(failed, time.time(), policy, "TierUnavailable: refused")
    assert store.put_if_unchanged(failed, None)
    status, body = call("api_reads", rest_event("GET", "/v1/nodes"))
    assert status == 200
    (seen,) = body["breakers"]
    assert (seen["node_id"], seen["model_id"], seen["state"]) == (
        "mec-metro-1",
        "edge-large-v1",
        "open",
    )
    assert seen["reason"].startswith("3 consecutive failures, last: TierUnavailable: refused")
    assert seen["cooldown_until"] == failed.cooldown_until
    assert seen["retry_in_s"] > 0


def test_a_decision_is_read_back_or_not_found(aws: Names):
    record = record_decision(aws, "req-7")
    event = rest_event("GET", "/v1/decisions/req-7", resource="/v1/decisions/{request_id}",
                       path_parameters={"request_id": "req-7"})  # fmt: skip
    status, body = call("api_reads", event)
    assert status == 200
    assert body == record.model_dump(mode="json")
    missing = rest_event("GET", "/v1/decisions/nope", resource="/v1/decisions/{request_id}",
                         path_parameters={"request_id": "nope"})  # fmt: skip
    status, body = call("api_reads", missing)
    assert (status, body["error"]) == (404, "NotFound")


ALICE_ROLE = "arn:aws:sts::123456789012:assumed-role/alice-app/botocore-session-1"
CALLERS = {"api_key": {"apiKeyId": "a1b2c3d4e5"}, "iam": {"userArn": ALICE_ROLE}}


def decision_event(request_id: str, identity: dict[str, str]) -> dict[str, Any]:
    return rest_event("GET", f"/v1/decisions/{request_id}", resource="/v1/decisions/{request_id}",
                      path_parameters={"request_id": request_id}, identity=identity)  # fmt: skip


@pytest.mark.parametrize("mode", list(CALLERS))
def test_a_decision_is_answered_only_to_the_principal_who_made_it(aws: Names, mode: str):
    """As deployed: API Gateway verified the caller (an API key, a SigV4 principal); another
    caller's record answers exactly as a missing one."""
    owner = proxy_event_user_id({"identity": CALLERS[mode]})
    assert owner is not None
    record = record_decision(aws, "req-9", user_id=owner)
    bob = ALICE_ROLE.replace("alice-app", "bob-app")
    someone_else = {"api_key": {"apiKeyId": "z9y8x7w6v5"}, "iam": {"userArn": bob}}[mode]

    mine = call("api_reads", decision_event("req-9", CALLERS[mode]))
    theirs = call("api_reads", decision_event("req-9", someone_else))
    missing = call("api_reads", decision_event("req-404", someone_else))

    assert mine == (200, record.model_dump(mode="json"))
    assert theirs == missing
    assert theirs[0] == 404


@pytest.mark.parametrize("mode", list(CALLERS))
def test_usage_and_feedback_are_the_verified_callers_own(aws: Names, mode: str):
    owner = proxy_event_user_id({"identity": CALLERS[mode]})
    record_decision(aws, "req-10", user_id=str(owner))
    usage = rest_event("GET", "/v1/usage", identity=CALLERS[mode])
    usage["queryStringParameters"] = {"user_id": "alice"}
    claimed = {"request_id": "req-10", "user_id": "mallory", "rating": 5}

    status, body = call("api_reads", usage)
    accepted, _ = call("feedback", rest_event("POST", "/v1/feedback", claimed,
                                              identity=CALLERS[mode]))  # fmt: skip

    assert (status, body["user_id"]) == (200, owner)
    assert accepted == 202
    (event,) = [e for e in stream_events(aws) if e["kind"] == "feedback"]
    assert event["user_id"] == owner


# -- Feedback -------------------------------------------------------------------------------


def test_feedback_is_attributed_and_streamed_once(aws: Names):
    record_decision(aws, "req-8")
    feedback = {"request_id": "req-8", "user_id": "alice", "rating": 2, "correct": False}

    first = call("feedback", rest_event("POST", "/v1/feedback", feedback))
    again = call("feedback", rest_event("POST", "/v1/feedback", feedback))

    assert first[0] == again[0] == 202
    assert first[1] == again[1]  # the retry gets the first receipt back
    events = [e for e in stream_events(aws) if e["kind"] == "feedback"]
    assert len(events) == 1
    assert events[0] | {"at": 0} == {
        "kind": "feedback", "request_id": "req-8", "user_id": "alice", "tier": "mec",
        "node_id": "mec-metro-1", "model_id": "edge-large-v1", "rating": 2, "correct": False,
        "observed_latency_ms": None, "at": 0,
    }  # fmt: skip


def test_feedback_on_someone_elses_or_unknown_request_is_not_found(aws: Names):
    record_decision(aws, "req-9", user_id="bob")
    for request_id in ("req-9", "never-sent"):
        status, body = call(
            "feedback",
            rest_event("POST", "/v1/feedback", {"request_id": request_id, "user_id": "alice",
                                                "rating": 5}),
        )  # fmt: skip
        assert (status, body["error"]) == (404, "NotFound")
    assert stream_events(aws) == []


def test_invalid_feedback_names_the_field(aws: Names):
    status, body = call(
        "feedback", rest_event("POST", "/v1/feedback", {"request_id": "x", "rating": 9})
    )
    assert status == 400
    assert body["error"] == "InvalidRequest"
    assert [p["field"] for p in body["problems"]] == ["rating"]


# -- Aggregator -----------------------------------------------------------------------------


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"p{i}",
                            "sequenceNumber": f"{i:056d}", "approximateArrivalTimestamp": 1.0,
                            "data": base64.b64encode(payload).decode()},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shard:{i}",
                "eventName": "aws:kinesis:record", "awsRegion": REGION,
                "eventSourceARN": f"arn:aws:kinesis:{REGION}:123456789012:stream/metrics",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/aggregator",
            }
            for i, payload in enumerate(payloads)
        ]
    }  # fmt: skip


_EVENT_NUMBERS = itertools.count()


def outcome(latency_ms: float, success: bool = True) -> bytes:
    """A distinct outcome event each call (the aggregator folds an event id in only once)."""
    event_id = f"r:{next(_EVENT_NUMBERS)}"
    return json.dumps({"kind": "outcome", "event_id": event_id, "request_id": "r", "tier": "mec",
                       "node_id": "mec-metro-1", "model_id": "edge-large-v1",
                       "success": success, "latency_ms": latency_ms if success else None,
                       "sla_met": success, "cost_usd": 0.0, "at": 1.0}).encode()  # fmt: skip


def test_aggregator_learns_from_outcomes_and_reports_only_bad_records(aws: Names):
    event = kinesis_event(
        outcome(40.0),
        b"not json",
        outcome(60.0),
        outcome(0, success=False),
        # Feedback on a request that got no answer: nothing to learn, nothing failed.
        json.dumps(
            {
                "kind": "feedback",
                "request_id": "r",
                "user_id": "u",
                "tier": None,
                "node_id": "-",
                "model_id": None,
                "rating": 4,
                "correct": None,
                "observed_latency_ms": None,
                "at": 1.0,
            }
        ).encode(),
        # An outcome without its event id is not one the monitor wrote: a bad record.
        json.dumps(
            {
                "kind": "outcome",
                "request_id": "r",
                "tier": "mec",
                "model_id": "m",
                "success": True,
                "latency_ms": 1.0,
                "at": 1.0,
            }
        ).encode(),
    )
    answer = handler("aggregator")(event, FakeLambdaContext(function_name="aggregator"))

    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{i:056d}"} for i in (1, 5)]}
    stat = DynamoStatsStore(aws.stats_table).get(stat_key("mec", "mec-metro-1", "edge-large-v1"))
    assert stat is not None
    assert stat.samples == 3
    assert 40.0 < stat.latency_ewma_ms < 60.0
    assert 0 < stat.success_rate < 1
    # The resource agent reads the same items back.
    assert DynamoStatsStore(aws.stats_table).list_stats() == [stat]


def test_aggregator_keeps_the_learned_routing_overhead_beside_the_statistics(aws: Names):
    # Given two outcomes that recorded the states' own time
    timed = [
        json.loads(outcome(40.0)) | {"event_id": f"r{i}:0", "routing_overhead_ms": ms}
        for i, ms in enumerate((150.0, 170.0))
    ]
    event = kinesis_event(*(json.dumps(t).encode() for t in timed))
    # When the aggregator consumes them
    answer = handler("aggregator")(event, FakeLambdaContext(function_name="aggregator"))
    # Then the regional path's overhead is learned, and the statistics still read cleanly
    assert answer == {"batchItemFailures": []}
    store = DynamoStatsStore(aws.stats_table)
    learned = store.get_overhead("regional")
    assert learned is not None
    assert (learned.source, learned.samples) == ("learned", 2)
    assert 150.0 <= learned.p50_ms <= 170.0
    (stat,) = store.list_stats()
    assert stat.samples == 2
    # And the regional API lists both, as the local API does (the same handler)
    status, body = call("api_reads", rest_event("GET", "/v1/stats"))
    assert status == 200
    assert body == LearnedStatistics(stats=[stat], routing_overhead=learned).model_dump(mode="json")
    assert body["routing_overhead"]["samples"] == 2
