"""MEC nodes inside the offline pipeline: heartbeats into moto, and a saturated node's 429
sending the execute agent to the next candidate."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from tests.reliability.faults import Handler, handler_wrapped, node_serving

from mecroute.adapters.dynamodb import DynamoModelRegistry
from mecroute.local.runtime import OfflineRuntime
from mecroute.mec.profiles import DEFAULT_SITES

from .nodes import call, in_background, tokens_for_hold, wait_until

# The execute agent publishes no metric of its own; powertools warns about that each call.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# Every site with one slot and a queue of one: two long requests fill any of them.
SMALL_SITES = tuple(dataclasses.replace(p, slots=1, queue_limit=1) for p in DEFAULT_SITES)


@pytest.fixture(scope="module")
def runtime() -> Iterator[OfflineRuntime]:
    with OfflineRuntime(sites=SMALL_SITES, time_scale=1.0, heartbeat_s=0.5) as started:
        yield started


def test_three_differently_profiled_nodes_heartbeat_into_the_nodes_table(
    runtime: OfflineRuntime,
) -> None:
    first = {record.node_id: record for record in runtime.node_records()}

    assert {record.site for record in first.values()} == {p.site for p in DEFAULT_SITES}
    assert all(record.status == "ok" for record in first.values())
    for profile in SMALL_SITES:
        assert sorted(first[profile.node_id].hot_models) == sorted(profile.preload)

    def every_node_beat_again() -> bool:
        latest = {record.node_id: record for record in runtime.node_records()}
        return all(latest[i].heartbeat_at > first[i].heartbeat_at for i in first)

    wait_until(every_node_beat_again, "a heartbeat from every node")


def test_a_saturated_node_answers_429_and_the_request_moves_to_the_next_candidate(
    runtime: OfflineRuntime,
) -> None:
    # Given: between routing and execution, the chosen node fills up (slot and queue taken)
    specs = {m.model_id: m for m in DynamoModelRegistry(runtime.names.models_table).list_models()}
    filled: list[str] = []
    background = []

    def filling_the_target_first(real_execute: Handler) -> Handler:
        def execute(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if not filled and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                spec = specs[target["model_id"]]
                tokens = tokens_for_hold(spec, 1500, node.profile.speed_factor)
                body = {"model_id": target["model_id"], "prompt": "fill", "output_tokens": tokens}
                url, node_id = f"{node.endpoint}/infer", node.profile.node_id
                for _ in range(node.profile.slots + node.profile.queue_limit):
                    background.append(
                        in_background(lambda: call(url, "POST", body, node_id=node_id))
                    )

                def full() -> bool:
                    health = call(f"{node.endpoint}/health", node_id=node_id).body
                    free, queued = health["free_slots"], health["queue_depth"]
                    return bool(free == 0 and queued == health["queue_limit"])

                wait_until(full, f"{node.profile.node_id} to fill up")
                filled.append(target["node_id"])
            return real_execute(event, context)

        return execute

    try:
        with handler_wrapped(runtime, "execute", filling_the_target_first):
            # When
            # (strict: never the cloud, so a MEC node is chosen first whatever the prices)
            run = runtime.run(
                {"prompt": "Summarise: the meeting moved to Tuesday at noon.", "privacy": "strict"}
            )
    finally:
        for thread, _ in background:
            thread.join(timeout=30)

    # Then
    assert filled, "the router did not pick a MEC node first"
    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    (failure,) = run.output["failures"]
    assert filled[0] in failure["candidate"]
    assert failure["error"] == "TierUnavailable"
    assert "answered 429" in failure["cause"]
    assert "Retry-After" in failure["cause"]
    assert run.output["result"]["node_id"] != filled[0]
    assert run.states.count("Execute") == 2
    # The requests the node did admit were all served.
    assert all(replies[0].status == 200 for _, replies in background)
