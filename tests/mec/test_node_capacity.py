"""Capacity emulation on a real node: slots, a bounded queue, 429 when full, drain on SIGTERM."""

from __future__ import annotations

import signal

from mecroute.adapters.dynamodb import DynamoNodeDirectory

from .nodes import Aws, Fleet, Reply, call, in_background, tokens_for_hold, wait_until


def slow_request(endpoint: str, aws: Aws, hold_ms: float) -> Reply:
    tokens = tokens_for_hold(aws.specs["edge-small-v1"], hold_ms)
    body = {"model_id": "edge-small-v1", "prompt": "Summarise the report.", "output_tokens": tokens}
    return call(f"{endpoint}/infer", "POST", body)


def test_a_full_node_answers_429_with_retry_after_and_serves_what_it_admitted(
    aws: Aws, fleet: Fleet
) -> None:
    # Given: one slot and a queue of one, both taken by requests that hold the slot ~1 s
    node = fleet.start(node_id="mec-capacity-1", slots=1, queue_limit=1, preload=("edge-small-v1",))
    admitted = [in_background(lambda: slow_request(node.endpoint, aws, 1000)) for _ in range(2)]

    def full() -> bool:
        health = call(f"{node.endpoint}/health").body
        return bool(health["in_flight"] == 1 and health["queue_depth"] == 1)

    wait_until(full, "the slot and the queue to fill")
    health = call(f"{node.endpoint}/health").body

    # When
    refused = slow_request(node.endpoint, aws, 10)

    # Then
    assert refused.status == 429
    assert refused.body["error"] == "Saturated"
    assert int(refused.headers["Retry-After"]) >= 1
    assert health["free_slots"] == 0
    assert health["utilisation"] == 1.0
    for thread, replies in admitted:
        thread.join(timeout=30)
        assert [reply.status for reply in replies] == [200]
    queued = [replies[0].body["queued_ms"] for _, replies in admitted]
    assert max(queued) > 0  # the second one really waited in the queue


def test_sigterm_answers_every_accepted_request_before_the_node_exits(
    aws: Aws, fleet: Fleet
) -> None:
    # Given: eight requests accepted by a node with two slots (six wait in its queue)
    node = fleet.start(node_id="mec-drain-1", slots=2, queue_limit=6, preload=("edge-small-v1",))
    requests = [in_background(lambda: slow_request(node.endpoint, aws, 300)) for _ in range(8)]

    def all_accepted() -> bool:
        health = call(f"{node.endpoint}/health").body
        return bool(health["in_flight"] + health["queue_depth"] == 8)

    wait_until(all_accepted, "all eight requests to be accepted")

    # When
    node.process.send_signal(signal.SIGTERM)

    # Then: every one of them is answered, and the node leaves cleanly
    for thread, replies in requests:
        thread.join(timeout=30)
        assert [reply.status for reply in replies] == [200]
    assert node.process.wait(timeout=30) == 0
    (record,) = [n for n in DynamoNodeDirectory(aws.names.nodes_table).list_nodes()
                 if n.node_id == "mec-drain-1"]  # fmt: skip
    assert record.status == "stopped"


def test_a_node_reports_how_long_its_requests_hold_a_slot(aws: Aws, fleet: Fleet) -> None:
    """The router's queue-wait prediction reads this service time (estimates.queue_wait_ms)."""
    node = fleet.start(node_id="mec-capacity-3", slots=1, queue_limit=1, preload=("edge-small-v1",))
    assert call(f"{node.endpoint}/health").body["service_ms"] is None  # nothing served yet

    slow_request(node.endpoint, aws, 300)

    assert call(f"{node.endpoint}/health").body["service_ms"] >= 300
