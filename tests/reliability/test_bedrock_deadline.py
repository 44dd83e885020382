"""A Bedrock call waits only for the time left before the request's deadline: a real
bedrock-runtime client (`aws.BEDROCK_CONFIG`) against a real HTTP server on 127.0.0.1 that
stands in for Bedrock and holds its answer back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from tests.unit.builders import CLOUD_MODEL, NOW, candidate, context, zoo_specs

from mecroute.adapters.aws import BEDROCK_CONFIG
from mecroute.adapters.cloud import BedrockCloud
from mecroute.adapters.memory import MemoryRegistry, MemoryResponseCache
from mecroute.adapters.ports import CloudCall
from mecroute.agents import execute
from mecroute.domain.errors import DeadlineExceeded, TierUnavailable
from mecroute.domain.messages import CachePlan
from mecroute.local.runtime import ASL_PATH

BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# Longer than any timeout under test, shorter than the client's own 23 s: a call still
# waiting when the stand-in answers was not bounded by the time it was given.
HELD_AT_MOST_S = 15.0


class SlowBedrock(ThreadingHTTPServer):
    """Answers Converse as Bedrock does, once `release` is set (or HELD_AT_MOST_S passed)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ConverseHandler)
        self.release = threading.Event()
        self.calls: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ConverseHandler(BaseHTTPRequestHandler):
    server: SlowBedrock

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls.append(self.path)
        self.server.release.wait(HELD_AT_MOST_S)
        body = json.dumps(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "late"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6},
                "metrics": {"latencyMs": 10},
            }
        ).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the caller gave up and closed the connection

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def slow_bedrock() -> Iterator[SlowBedrock]:
    server = SlowBedrock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def bedrock_at(server: SlowBedrock) -> BedrockCloud:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=BEDROCK_CONFIG,
    )
    return BedrockCloud(client, BEDROCK_MODEL)


def test_the_stand_in_answers_as_bedrock_when_it_is_not_held(slow_bedrock: SlowBedrock) -> None:
    # The control: the same client and server give an answer when there is time for it
    slow_bedrock.release.set()

    answer = bedrock_at(slow_bedrock).converse(CloudCall(CLOUD_MODEL, "hi", 16, None, 15.0))

    assert (answer.output, answer.output_tokens) == ("late", 1)


def test_a_bedrock_call_gives_up_when_its_time_is_up(slow_bedrock: SlowBedrock) -> None:
    cloud = bedrock_at(slow_bedrock)

    with pytest.raises(TierUnavailable, match="Bedrock timed out"):
        cloud.converse(CloudCall(CLOUD_MODEL, "hi", 16, timeout_s=0.3))

    # One call: the deadline leaves no time for the SDK to retry it
    assert slow_bedrock.calls == [f"/model/{quote(BEDROCK_MODEL)}/converse"]


def test_a_cloud_attempt_ends_at_the_requests_deadline(slow_bedrock: SlowBedrock) -> None:
    # Given: a cloud attempt starting with 0.5 s left of a 1 s SLA, Bedrock holding its answer
    ctx = context({"sla": {"max_latency_ms": 1000}})
    target = candidate("cloud", CLOUD_MODEL, placement="cold", predicted_latency_ms=300.0)
    tiers = execute.Tiers(
        registry=MemoryRegistry(zoo_specs()),
        nodes=None,  # type: ignore[arg-type]
        cloud=bedrock_at(slow_bedrock),
        local_models=None,  # type: ignore[arg-type]
        responses=MemoryResponseCache(),
        cloud_backhaul_ms=60.0,
        response_ttl_s=600.0,
    )
    plan = CachePlan(request_id="req-1", target=target, placement="cold", action="none")

    # Then: the attempt is given up on at the deadline, by name, for the next candidate
    with pytest.raises(DeadlineExceeded, match="no answer before the deadline"):
        execute.execute(ctx, target, plan, tiers, NOW + 0.5)
    assert len(slow_bedrock.calls) == 1


def test_no_bedrock_call_outlasts_the_execute_state() -> None:
    # Where botocore cannot take a per-call timeout, the client's own bound still ends the
    # call (one attempt) before Step Functions ends the Execute state.
    execute_state = json.loads(ASL_PATH.read_text())["States"]["Execute"]
    assert (
        BEDROCK_CONFIG.connect_timeout + BEDROCK_CONFIG.read_timeout
        < (execute_state["TimeoutSeconds"])
    )
    assert BEDROCK_CONFIG.retries == {"mode": "standard", "total_max_attempts": 1}
