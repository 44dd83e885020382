"""The edge gateway beside the offline runtime, over real HTTP on 127.0.0.1: it answers with the
regional API's bodies and errors, decides as the Step Functions path decides on the same request
and snapshot, and every record reaches the regional table (read back through the local API)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.gateway.service import Gateway
from mecroute.local.api import serve
from mecroute.local.gateways import start_gateways
from mecroute.local.lambdas import FakeLambdaContext
from mecroute.local.runtime import OfflineRuntime

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with OfflineRuntime(time_scale=0) as runtime:
        gateways = start_gateways(runtime, tmp_path_factory.mktemp("queues"))
        urls = {site: served.url for site, (_, served) in gateways.items()}
        api = serve(runtime, 0, urls).start()
        site = sorted(gateways)[0]
        try:
            with (
                httpx.Client(base_url=urls[site], timeout=60) as edge,
                httpx.Client(base_url=api.url, timeout=60) as regional,
            ):
                yield {
                    "runtime": runtime,
                    "gateway": gateways[site][0],
                    "edge": edge,
                    "regional": regional,
                    "urls": urls,
                }
        finally:
            api.stop()
            for gateway, served in gateways.values():
                served.stop()
                gateway.stop()


def wait_until(condition: Any, what: str) -> None:
    """A bounded wait for background work (the shipper), not a timing assertion."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_serve_lists_one_gateway_per_site(offline):
    sites = offline["regional"].get("/v1/sites").json()["sites"]

    assert {s["site"] for s in sites} == set(offline["urls"])
    for site in sites:
        assert site["gateway_url"] == offline["urls"][site["site"]]
        assert httpx.get(f"{site['gateway_url']}/health").json()["site"] == site["site"]


def test_a_request_is_answered_at_the_site_recorded_and_readable_at_the_regional_api(offline):
    answer = offline["edge"].post("/v1/inference", json={"prompt": "What is 2 + 2?"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded"
    assert body["decision"]["primary"]["tier"] == body["result"]["tier"]
    timing = body["timing"]
    assert timing["end_to_end_ms"] >= timing["execution_ms"]
    assert timing["routing_overhead_ms"] >= 0
    assert offline["edge"].get(f"/v1/decisions/{body['request_id']}").status_code == 200

    def regional() -> bool:
        return offline["regional"].get(f"/v1/decisions/{body['request_id']}").status_code == 200

    wait_until(regional, "the gateway's record to reach the regional table")
    assert offline["regional"].get(f"/v1/decisions/{body['request_id']}").json() == body


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"prompt": "hi", "privacy": "secret"}',
        b'{"prompt": "hi", "colour": "red"}',
        b'{"prompt": ""}',
        b"[1, 2]",
        b'{"prompt": "hi", "privacy": "strict", "sla": {"min_accuracy": 0.99}}',
    ],
)
def test_bad_input_gets_the_regional_apis_status_and_error(offline, raw: bytes):
    headers = {"Content-Type": "application/json"}

    edge = offline["edge"].post("/v1/inference", content=raw, headers=headers)
    regional = offline["regional"].post("/v1/inference", content=raw, headers=headers)

    assert edge.status_code == regional.status_code, (edge.text, regional.text)
    assert edge.json()["error"] == regional.json()["error"]
    fields = [[p["field"] for p in r.json().get("problems", [])] for r in (edge, regional)]
    assert fields[0] == fields[1]


def test_a_strict_request_never_goes_to_the_cloud_and_its_text_stays_at_the_site(offline):
    prompt = "Summarise my medical notes: patient Jane, blood pressure 140/90."
    answer = offline["edge"].post("/v1/inference", json={"prompt": prompt, "privacy": "strict"})

    body = answer.json()
    assert answer.status_code == 200, answer.text
    assert "cloud" not in [c["tier"] for c in body["decision"]["candidates"]]
    decisions = DynamoDecisionLog(offline["runtime"].names.decisions_table)
    wait_until(lambda: decisions.get(body["request_id"]), "the record to reach the region")
    stored = decisions.get(body["request_id"])
    assert stored is not None
    assert stored.result is not None
    assert stored.result.output.startswith("sha256:")
    assert body["result"]["output"] not in stored.model_dump_json()
    assert prompt not in stored.model_dump_json()


REQUESTS = st.fixed_dictionaries(
    {
        "prompt": st.sampled_from(
            [
                "What is the capital of France?",
                "Prove that there are infinitely many primes, step by step.",
                "Translate 'good night' into Spanish.",
                "Write a Python function that merges two sorted lists and explain its complexity.",
                "Classify the sentiment: the film was a delight.",
            ]
        )
    },
    optional={
        "privacy": st.sampled_from(["none", "regional", "strict"]),
        "sla": st.fixed_dictionaries(
            {},
            optional={
                "max_latency_ms": st.integers(50, 5000),
                "min_accuracy": st.floats(0.3, 0.95),
                "max_cost_usd": st.sampled_from([0.0001, 0.01, 1.0]),
            },
        ),
        "network": st.fixed_dictionaries(
            {
                "rtt_ms": st.floats(1, 300),
                "radio": st.sampled_from(["5g", "lte", "wifi"]),
            }
        ),
    },
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=REQUESTS)
def test_the_gateway_and_the_pipelines_agents_choose_the_same_primary_and_fallbacks(
    offline, request: dict[str, Any]
):
    # Given: one request and the gateway's current snapshot
    runtime: OfflineRuntime = offline["runtime"]
    gateway: Gateway = offline["gateway"]
    snapshot = gateway.keeper.current
    request_id = str(uuid.uuid4())
    handlers = runtime.lambdas.handlers

    # When: the context and router Lambda handlers (what the state machine invokes) and the
    # gateway's in-process composition decide
    regional_context = handlers["context"](
        {"request_id": request_id, "request": request}, FakeLambdaContext("mecroute-context")
    )
    regional = handlers["router"](
        {"context": regional_context, "resources": snapshot.resources.model_dump(mode="json")},
        FakeLambdaContext("mecroute-router"),
    )
    analysis = gateway.pipeline.analyze(request_id, request, regional_context["received_at"])
    edge = gateway.pipeline.decide(analysis, snapshot).model_dump(mode="json")

    # Then
    def plan(decision: dict[str, Any]) -> list[tuple[str, str | None, str]]:
        return [(c["tier"], c["node_id"], c["model_id"]) for c in decision["candidates"]]

    assert analysis.complexity == pytest.approx(regional_context["complexity"])
    assert plan(edge) == plan(regional)
    assert edge["reason"] == regional["reason"]


def test_a_queued_record_survives_a_restart_and_is_shipped(offline, tmp_path: Path):
    from mecroute.domain.messages import UnstoredRecord
    from mecroute.gateway.queue import RecordQueue
    from mecroute.gateway.shipper import Shipper

    runtime: OfflineRuntime = offline["runtime"]
    answer = offline["edge"].post("/v1/inference", json={"prompt": "Name a prime number."}).json()
    wait_until(
        lambda: DynamoDecisionLog(runtime.names.decisions_table).get(answer["request_id"]),
        "the record",
    )
    record = DynamoDecisionLog(runtime.names.decisions_table).get(answer["request_id"])
    assert record is not None
    moved = record.model_copy(update={"request_id": f"replayed-{uuid.uuid4()}"})

    # Given: a record queued by a gateway that then died before shipping it
    first = RecordQueue(tmp_path / "q.sqlite", limit=10)
    first.put(
        UnstoredRecord(request_id=moved.request_id, record=moved, reason="t").model_dump_json()
    )
    first.close()

    # When: the gateway comes back on the same queue file
    again = RecordQueue(tmp_path / "q.sqlite", limit=10)
    shipper = Shipper(again, runtime.names.decisions_table, runtime.names.metrics_stream)
    shipped = shipper.drain_once()

    # Then
    assert shipped == 1
    assert again.depth() == 0
    assert DynamoDecisionLog(runtime.names.decisions_table).get(moved.request_id) == moved


def test_a_paid_answer_at_the_edge_is_counted_in_the_callers_usage_once(offline, tmp_path):
    from mecroute.adapters.ports import Charge
    from mecroute.domain.spend import period_key, period_label
    from mecroute.gateway.queue import RecordQueue
    from mecroute.gateway.settlements import EdgeShipment, Settlement
    from mecroute.gateway.shipper import Shipper, usage_ledger

    runtime: OfflineRuntime = offline["runtime"]
    payer = f"payer-{uuid.uuid4().hex[:8]}"

    def today() -> dict[str, Any]:
        usage = offline["regional"].get("/v1/usage", params={"user_id": payer})
        assert usage.status_code == 200, usage.text
        day: dict[str, Any] = usage.json()["day"]
        return day

    # Given: an answer the gateway paid a tier for (counted by its shipper, off the request path)
    answer = (
        offline["edge"]
        .post("/v1/inference", json={"prompt": "Name a colour.", "user_id": payer})
        .json()
    )
    cost = answer["result"]["cost_usd"]
    assert cost > 0
    wait_until(lambda: today()["answers"] == 1, "the answer counted in the caller's usage")
    assert today()["spent_usd"] == pytest.approx(cost, rel=1e-6)

    # When: a shipment closing an open hold is sent twice (its shipper died before
    # acknowledging it)
    now = time.time()
    account, day = period_key(payer, "month", now), period_label("day", now)
    hold = f"paid#again-{payer}#mec"
    ledger = usage_ledger(runtime.names.usage_table)
    assert ledger is not None
    ledger.open(hold, Charge(account, day, 0.0, now + 86_400))
    settlement = Settlement(hold=hold, charge=Charge(account, day, 0.25, now + 86_400, answers=1))
    queue = RecordQueue(tmp_path / "again.sqlite", limit=10)
    shipment = EdgeShipment(
        request_id=f"again-{payer}", record=None, reason="t", settlements=[settlement]
    ).model_dump_json()
    for _ in range(2):
        queue.put(shipment)
        Shipper(
            queue, runtime.names.decisions_table, runtime.names.metrics_stream, ledger
        ).drain_once()

    # Then: it is counted once
    assert today()["answers"] == 2
    assert today()["spent_usd"] == pytest.approx(cost + 0.25, rel=1e-6)


def test_the_openai_client_gets_chat_completions_from_the_gateway_streaming_included(offline):
    site = sorted(offline["urls"])[0]
    client = openai.OpenAI(base_url=f"{offline['urls'][site]}/v1", api_key="sk-edge", max_retries=0)
    question = [{"role": "user", "content": "What is the capital of France?"}]

    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=question,
        max_tokens=20,
        extra_body={"mecroute": {"privacy": "strict"}},
    )
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=question, stream=True
    ) as streamed:
        stream_headers = streamed.headers
        chunks = list(streamed.parse())

    completion = raw.parse()
    assert raw.headers["x-mecroute-tier"] in ("device", "mec")  # strict: never the cloud
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 20
    recorded = offline["edge"].get(f"/v1/decisions/{raw.headers['x-mecroute-request-id']}")
    assert recorded.json()["result"]["output"] == completion.choices[0].message.content
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    streamed_record = offline["edge"].get(
        f"/v1/decisions/{stream_headers['x-mecroute-request-id']}"
    )
    assert stream_headers["content-type"].startswith("text/event-stream")
    assert streamed_record.json()["result"]["output"] == text
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="auto", messages=question, max_tokens=0)
    assert refused.value.param == "max_tokens"
