"""What agents see arrives late, as in production: node load by heartbeat, learned statistics
after the stream's batching and the agents' table refresh."""

import numpy as np

from mecroute.evaluation.ground_truth import GroundTruth
from mecroute.evaluation.learning_loop import TABLE_REFRESH_S, DelayedLearning
from mecroute.evaluation.world import HEARTBEAT_S, Episode, World
from mecroute.mec.profiles import DEFAULT_SITES


def event(success: bool = True) -> dict:
    return {"tier": "mec", "node_id": "n1", "model_id": "m", "success": success, "latency_ms": 80.0}


def test_an_outcome_reaches_the_router_only_after_the_stream_and_a_table_read():
    learning = DelayedLearning(np.random.default_rng(0))
    learning.record(1.0, event())

    assert learning.view(1.5) == []
    later = learning.view(1.0 + 20 * TABLE_REFRESH_S)
    assert [(s.node_id, s.samples) for s in later] == [("n1", 1)]


def test_the_router_reads_the_table_at_refresh_boundaries_only():
    learning = DelayedLearning(np.random.default_rng(0))
    learning.record(0.0, event())
    seen = learning.view(100.0)
    learning.record(100.0, event())

    # Within the same refresh period the agents keep the statistics they read.
    assert learning.view(100.0 + TABLE_REFRESH_S / 2) == seen


def test_an_outage_shows_only_from_the_next_heartbeat(models):
    truth = GroundTruth.draw(1, models, DEFAULT_SITES)
    world = World(models, 100.0, truth, incidents=False)
    node = next(iter(world.nodes.values()))
    node.heartbeat_phase_s = 0.0
    node.outages.append(Episode(0.501, 1.0))  # from t = 50.1 s

    def seen(now_s: float):
        return next(n for n in world.snapshot(now_s, []).nodes if n.node_id == node.profile.node_id)

    assert seen(50.0).healthy
    just_failed = seen(52.0)
    assert just_failed.healthy
    assert just_failed.heartbeat_age_s == 2.0
    assert not seen(50.0 + HEARTBEAT_S).healthy
    # A gateway probes its own site's node directly: it sees the outage at once.
    live = world.snapshot(52.0, [], live_node=node.profile.node_id)
    assert not next(n for n in live.nodes if n.node_id == node.profile.node_id).healthy
