"""Resource agent: a snapshot of what can serve requests right now."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mecroute.adapters.openai_server import speaks_openai
from mecroute.adapters.ports import MecNodes, ModelRegistry, NodeDirectory, StatsStore
from mecroute.domain.breaker import BreakerView
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import RoutingOverhead, RoutingPath, routing_overhead
from mecroute.domain.messages import CloudStatus, NodeStatus, ResourceSnapshot
from mecroute.domain.registry import NodeRecord
from mecroute.domain.spend import CallerBudget


def assess(
    registry: ModelRegistry,
    directory: NodeDirectory,
    nodes: MecNodes,
    stats: StatsStore,
    cloud: CloudStatus,
    now: float,
    heartbeat_timeout_s: float,
    path: RoutingPath = "regional",
    learned_overhead: RoutingOverhead | None = None,
    breakers: Sequence[BreakerView] = (),
    caller_budget: CallerBudget | None = None,
) -> ResourceSnapshot:
    """`learned_overhead`: the path's recorded routing overhead (learning.fold_routing_overhead);
    until it has enough samples the snapshot carries the path's published prior. `breakers`:
    the circuit breakers that are not closed, for the router's breaker constraint;
    `caller_budget`: what the caller may still spend, for its budget constraint."""
    records = directory.list_nodes()
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(records)))) as pool:
        statuses = list(
            pool.map(lambda record: probe(record, nodes, now, heartbeat_timeout_s), records)
        )
    return ResourceSnapshot(
        taken_at=now,
        nodes=statuses,
        models=registry.list_models(),
        cloud=cloud,
        stats=stats.list_stats(),
        routing_overhead=routing_overhead(path, learned_overhead),
        breakers=list(breakers),
        caller_budget=caller_budget,
    )


def probe(
    record: NodeRecord, nodes: MecNodes, now: float, heartbeat_timeout_s: float
) -> NodeStatus:
    """Live health from the node itself; the table's heartbeat when the node cannot be reached.

    A node is available only if it answers its probe AND its heartbeat is fresh: a stale
    heartbeat means the node's own view of itself stopped, even if something still answers
    at its address (a hung process, an address reused by another task). An OpenAI-compatible
    server (`openai+` endpoint) has no heartbeat: its probe alone decides.
    """
    base = {
        "node_id": record.node_id,
        "site": record.site,
        "endpoint": record.endpoint,
        "region": record.region,
        "speed_factor": record.speed_factor,
        "site_rtt_ms": record.site_rtt_ms,
        "memory_budget_mb": record.memory_budget_mb,
        "queue_limit": record.queue_limit,
    }
    age = max(0.0, now - record.heartbeat_at)
    try:
        health = nodes.health(record.endpoint, record.node_id)
    except TierUnavailable as error:
        return NodeStatus(
            **base,
            healthy=False,
            unhealthy_reason=f"health probe failed ({error}); last heartbeat {age:.0f}s ago",
            slots=record.slots,
            free_slots=0,
            queue_depth=record.queue_depth,
            utilisation=1.0,
            hot_models=record.hot_models,
            heartbeat_age_s=age,
        )
    saturated = health.in_flight >= health.slots and health.queue_depth >= record.queue_limit
    # Your own model server writes no heartbeats: its live answer is all there is to know.
    if age > heartbeat_timeout_s and not speaks_openai(record.endpoint):
        reason = f"heartbeat stale: last {age:.1f}s ago, timeout {heartbeat_timeout_s:g}s"
    elif health.status != "ok" or record.status != "ok":
        status = health.status if health.status != "ok" else record.status
        reason = f"node {status}: takes no new requests"
    elif saturated:
        reason = "saturated: every slot busy and the queue full"
    else:
        reason = ""
    return NodeStatus(
        **base,
        healthy=not reason,
        unhealthy_reason=reason,
        slots=health.slots,
        free_slots=max(0, health.slots - health.in_flight),
        queue_depth=health.queue_depth,
        service_ms=health.service_ms,
        utilisation=min(1.0, health.in_flight / health.slots),
        hot_models=health.hot_models,
        heartbeat_age_s=age,
    )
