"""The gateway's snapshot: its site probed live, other sites from heartbeats, and a region that
stops answering leaves the last snapshot in use, marked stale (a strict request still never
goes to the cloud)."""

from __future__ import annotations

from mecroute.adapters.memory import MemoryNodes, MemoryRegistry, MemoryStats
from mecroute.adapters.ports import NodeHealth
from mecroute.agents import router
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import EDGE_PATH_PRIOR, LEARNED_MIN_SAMPLES
from mecroute.domain.messages import CloudStatus
from mecroute.domain.registry import ModelSpec, NodeRecord
from mecroute.domain.request import CriterionWeights
from mecroute.gateway.snapshot import Region, SnapshotKeeper

from .builders import NOW, context, zoo_specs

CLOUD = CloudStatus(available=True, provider="simulator", region="us-east-1", backhaul_rtt_ms=60)


class SiteNodes:
    """Answers health for this site's nodes; a probe of anything else is a bug in the test."""

    def __init__(self, live: dict[str, NodeHealth]) -> None:
        self.live = live
        self.probed: list[str] = []

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        self.probed.append(endpoint)
        if endpoint not in self.live:
            raise TierUnavailable(endpoint)
        return self.live[endpoint]


class Unreachable:
    def list_models(self) -> list[ModelSpec]:
        raise ConnectionError("the region is unreachable")


def record(node_id: str, site: str, **fields: object) -> NodeRecord:
    return NodeRecord.model_validate(
        {"node_id": node_id, "site": site, "endpoint": f"http://{node_id}", "region": "us-east-1",
         "heartbeat_at": NOW - 1, "hot_models": ["edge-small-v1"], **fields}
    )  # fmt: skip


def keeper(nodes: SiteNodes, registry: object) -> SnapshotKeeper:
    records = [record("mec-here", "metro-5g"), record("mec-there", "rural-lte", in_flight=3)]
    region = Region(registry, MemoryNodes(records), MemoryStats())  # type: ignore[arg-type]
    return SnapshotKeeper("metro-5g", region, nodes, CLOUD, heartbeat_timeout_s=30)  # type: ignore[arg-type]


def test_own_site_is_probed_live_and_other_sites_come_from_their_heartbeats():
    live = NodeHealth(in_flight=1, queue_depth=0, slots=4, hot_models=["edge-large-v1"])
    nodes = SiteNodes({"http://mec-here": live})

    snapshot = keeper(nodes, MemoryRegistry(zoo_specs())).refresh(NOW)

    assert nodes.probed == ["http://mec-here"]
    by_id = {n.node_id: n for n in snapshot.resources.nodes}
    assert by_id["mec-here"].hot_models == ["edge-large-v1"]
    assert by_id["mec-there"].hot_models == ["edge-small-v1"]
    assert by_id["mec-there"].free_slots == 1
    assert snapshot.resources.routing_overhead.path == "edge"
    assert not snapshot.stale


def test_an_unreachable_region_keeps_the_last_snapshot_marked_stale_and_strict_stays_off_cloud():
    live = NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=["edge-small-v1"])
    registry = MemoryRegistry(zoo_specs())
    kept = keeper(SiteNodes({"http://mec-here": live}), registry)
    fresh = kept.refresh(NOW)

    kept.region.registry = Unreachable()  # type: ignore[assignment]
    stale = kept.refresh(NOW + 10)

    assert stale.stale
    assert stale.region_read_at == fresh.region_read_at
    assert stale.resources.models == fresh.resources.models
    strict = context({"prompt": "my notes", "privacy": "strict"})
    decision = router.route(strict, stale.resources, CriterionWeights())
    assert decision.candidates
    assert all(c.tier != "cloud" for c in decision.candidates)


def test_the_gateways_own_recorded_overheads_replace_the_edge_prior_once_there_are_enough():
    live = NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=["edge-small-v1"])
    kept = keeper(SiteNodes({"http://mec-here": live}), MemoryRegistry(zoo_specs()))
    prior = kept.refresh(NOW).resources.routing_overhead

    for _ in range(LEARNED_MIN_SAMPLES - 1):
        kept.note_overhead(9.0)
    too_few = kept.refresh(NOW + 5).resources.routing_overhead
    kept.note_overhead(9.0)
    learned = kept.refresh(NOW + 10).resources.routing_overhead

    assert prior == too_few == EDGE_PATH_PRIOR
    assert (learned.source, learned.path) == ("learned", "edge")
    assert learned.samples == LEARNED_MIN_SAMPLES
    assert learned.p50_ms > EDGE_PATH_PRIOR.p50_ms  # 9 ms recorded, against a 2 ms prior
    slower = router.route(context({"prompt": "hi"}), kept.current.resources, CriterionWeights())
    assert slower.primary is not None
    assert slower.primary.routing_overhead_ms == learned.p50_ms
