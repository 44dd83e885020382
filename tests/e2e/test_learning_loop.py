"""The learning loop closes offline: the real aggregator consumes the local metrics stream,
`GET /v1/stats` lists what it learned, and a node that slows down loses its requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mecroute.domain.estimates import LEARNED_MIN_SAMPLES
from mecroute.local.api import serve
from mecroute.local.runtime import OfflineRuntime
from mecroute.local.stream_consumer import StreamConsumer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]
# Kept at the edge (strict); the default SLA (3 s), against which latency differences count.
REQUEST = {"prompt": "Summarise: the meeting moved to Tuesday at noon.", "privacy": "strict"}
# A slowed node has lost its requests by this many requests after it slowed down...
DOWN_WEIGHTED_WITHIN = 6
# ...each coming after the resource agent re-read the learned statistics (it keeps them this
# long: adapters/recent.RecentStats), so that each request can see what the last one taught.
STATS_REREAD_S = 5.0
EVENTS_WITHIN_S = 30.0
# Ten times its compute: answers come late, past what the execute agent waits (3x the
# prediction, at least 0.5 s), or not far from it.
SLOWDOWN = 10.0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[httpx.Client, OfflineRuntime, StreamConsumer]]:
    with OfflineRuntime(time_scale=1.0) as runtime:
        consumer = StreamConsumer.aggregator(runtime.names.metrics_stream)
        server = serve(runtime, 0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                yield client, runtime, consumer
        finally:
            server.stop()


def decided(client: httpx.Client, consumer: StreamConsumer) -> dict[str, Any]:
    """One request answered over HTTP, its outcome then folded in by the aggregator."""
    response = client.post("/v1/inference", json=REQUEST)
    assert response.status_code == 200, response.text
    # The outcome is recorded after the answer (asynchronously): wait for its events.
    waited_until = time.monotonic() + EVENTS_WITHIN_S
    while consumer.drain() == 0:
        assert time.monotonic() < waited_until, "the request's events never reached the stream"
        time.sleep(0.1)
    decision: dict[str, Any] = response.json()["decision"]
    return decision


def learned(client: httpx.Client, node_id: str, model_id: str) -> dict[str, Any]:
    stats = client.get("/v1/stats").json()["stats"]
    (stat,) = [s for s in stats if (s["tier"], s["node_id"], s["model_id"]) ==
               ("mec", node_id, model_id)]  # fmt: skip
    return stat


def learned_worse(
    client: httpx.Client, consumer: StreamConsumer, place: tuple[str, str], before: dict[str, Any]
) -> bool:
    """Whether what is learned about `place` turns worse than `before` (slower or less often
    successful) once the events still on their way have been folded in."""
    waited_until = time.monotonic() + EVENTS_WITHIN_S
    while True:
        consumer.drain()
        after = learned(client, *place)
        worse = (after["latency_ewma_ms"], -after["success_rate"]) > (
            before["latency_ewma_ms"],
            -before["success_rate"],
        )
        if worse or time.monotonic() > waited_until:
            return worse
        time.sleep(0.1)


def test_a_node_that_slows_down_is_down_weighted_within_a_bounded_number_of_requests(
    served: tuple[httpx.Client, OfflineRuntime, StreamConsumer],
) -> None:
    client, runtime, consumer = served
    # Given: the router's first choice, with enough outcomes learned there to count
    first = decided(client, consumer)["primary"]
    node_id, model_id = first["node_id"], first["model_id"]
    place = (node_id, model_id)
    for _ in range(2 * LEARNED_MIN_SAMPLES):
        if learned(client, node_id, model_id)["samples"] >= LEARNED_MIN_SAMPLES:
            break
        decided(client, consumer)
    current = decided(client, consumer)["candidates"]
    (fast,) = [c for c in current if (c["node_id"], c["model_id"]) == place]
    before = learned(client, node_id, model_id)
    assert before["samples"] >= LEARNED_MIN_SAMPLES
    assert set(before) >= {"latency_ewma_ms", "latency_p95_ms", "success_rate", "samples"}
    assert client.get("/v1/stats").json()["routing_overhead"]["samples"] >= LEARNED_MIN_SAMPLES

    # When: that node slows down (its emulated compute takes ten times as long)
    runtime.restart_node(node_id, time_scale=runtime.time_scale * SLOWDOWN)
    decisions = []
    for _ in range(DOWN_WEIGHTED_WITHIN):
        time.sleep(STATS_REREAD_S)
        decisions.append(decided(client, consumer))
        if decisions[-1]["primary"]["node_id"] != node_id:
            break

    # Then: within the bound the router sends the request elsewhere...
    moved = [d for d in decisions if d["primary"]["node_id"] != node_id]
    assert moved, [d["primary"]["node_id"] for d in decisions]
    # ...what the aggregator learned about the slowed node turned worse (its events may still
    # be on their way: a drain that returned some events need not have returned these)...
    assert learned_worse(client, consumer, place, before)
    # ...because what it learned about the slowed node lowered that node's score (ranked lower
    # than when it was fast, or no longer among the first four candidates at all)
    slowed = [c for c in moved[0]["candidates"] if (c["node_id"], c["model_id"]) == place]
    assert all(c["score"] < fast["score"] for c in slowed)
