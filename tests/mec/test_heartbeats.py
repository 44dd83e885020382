"""Heartbeats into the nodes table, and the resource agent reading them."""

from __future__ import annotations

import time

from mecroute.adapters.dynamodb import DynamoModelRegistry, DynamoNodeDirectory
from mecroute.adapters.memory import MemoryStats
from mecroute.adapters.ports import NodeHealth
from mecroute.agents import resource
from mecroute.domain.messages import CloudStatus, NodeStatus
from mecroute.domain.registry import NodeRecord

from .nodes import Aws, Fleet, call, wait_until

HEARTBEAT_S = 0.2
HEARTBEAT_TIMEOUT_S = 2.0
CLOUD = CloudStatus(available=True, provider="simulator", region="us-east-1", backhaul_rtt_ms=60)


class AnswersAnyway:
    """Something still answering at a node's address: a hung process, an address reused."""

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        return NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=["edge-small-v1"])


def record_of(aws: Aws, node_id: str) -> NodeRecord | None:
    nodes = DynamoNodeDirectory(aws.names.nodes_table).list_nodes()
    return next((node for node in nodes if node.node_id == node_id), None)


def status_of(aws: Aws, node_id: str, nodes: object, now: float) -> NodeStatus:
    snapshot = resource.assess(
        DynamoModelRegistry(aws.names.models_table),
        DynamoNodeDirectory(aws.names.nodes_table),
        nodes,  # type: ignore[arg-type]
        MemoryStats(),
        CLOUD,
        now,
        HEARTBEAT_TIMEOUT_S,
    )
    return next(node for node in snapshot.nodes if node.node_id == node_id)


def test_a_node_registers_itself_and_its_heartbeats_track_its_models(
    aws: Aws, fleet: Fleet
) -> None:
    node = fleet.start(node_id="mec-beat-1", preload=(), heartbeat_s=HEARTBEAT_S)

    registered = record_of(aws, "mec-beat-1")
    assert registered is not None
    assert registered.endpoint == node.endpoint
    assert (registered.site, registered.slots, registered.status) == ("metro-5g", 4, "ok")

    wait_until(
        lambda: (record_of(aws, "mec-beat-1") or registered).heartbeat_at > registered.heartbeat_at,
        "a second heartbeat",
    )
    spec = aws.specs["edge-small-v1"]
    body = {"artifact_key": spec.artifact_key, "sha256": spec.sha256}
    assert call(f"{node.endpoint}/models/edge-small-v1/load", "POST", body).status == 200
    wait_until(
        lambda: (record_of(aws, "mec-beat-1") or registered).hot_models == ["edge-small-v1"],
        "the load to show in the table",
    )
    # The static fields survive the heartbeats: they update, never overwrite.
    latest = record_of(aws, "mec-beat-1")
    assert latest is not None
    assert latest.endpoint == node.endpoint
    assert latest.slots == 4


def test_a_killed_node_is_unavailable_within_its_heartbeat_timeout(aws: Aws, fleet: Fleet) -> None:
    # Given: a heartbeating node, then killed without a chance to say goodbye
    node = fleet.start(node_id="mec-beat-2", preload=(), heartbeat_s=HEARTBEAT_S)
    wait_until(lambda: record_of(aws, "mec-beat-2") is not None, "registration")
    node.process.kill()
    node.process.wait()

    # When: its heartbeats have stopped (the record no longer moves)
    def settled() -> bool:
        before = record_of(aws, "mec-beat-2")
        time.sleep(5 * HEARTBEAT_S)
        return before == record_of(aws, "mec-beat-2")

    wait_until(settled, "the heartbeats to stop")
    last = record_of(aws, "mec-beat-2")
    assert last is not None
    assert last.status == "ok"

    # Then: even if something answers at its address, it is available only until the timeout
    timeout_at = last.heartbeat_at + HEARTBEAT_TIMEOUT_S
    just_before = status_of(aws, "mec-beat-2", AnswersAnyway(), timeout_at - 0.1)
    just_after = status_of(aws, "mec-beat-2", AnswersAnyway(), timeout_at + 0.1)
    assert just_before.healthy
    assert not just_after.healthy
    assert just_after.unhealthy_reason.startswith("heartbeat stale")
    # And with the real probe it is unavailable at once: nothing answers.
    probed = status_of(aws, "mec-beat-2", fleet.client(), last.heartbeat_at + 0.1)
    assert not probed.healthy
    assert "health probe failed" in probed.unhealthy_reason


def test_a_node_that_shut_down_says_so_and_is_not_offered_work(aws: Aws, fleet: Fleet) -> None:
    fleet.start(node_id="mec-beat-3", preload=(), heartbeat_s=HEARTBEAT_S).stop()

    last = record_of(aws, "mec-beat-3")

    assert last is not None
    assert last.status == "stopped"
    assert last.hot_models == []
    status = status_of(aws, "mec-beat-3", AnswersAnyway(), last.heartbeat_at)
    assert not status.healthy
    assert "stopped" in status.unhealthy_reason
