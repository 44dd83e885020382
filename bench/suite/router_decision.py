"""The router's decision on a fixed snapshot (3 tiers, 8 MEC nodes, 26 options), on one core."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from mecroute.agents import router
from mecroute.domain.messages import (
    CloudStatus,
    ContextAnalysis,
    NodeStatus,
    ResourceSnapshot,
    TierStat,
)
from mecroute.domain.registry import ModelSpec
from mecroute.domain.request import CriterionWeights, InferenceRequest
from mecroute.local.runtime import REGION, ZOO_DIR
from mecroute.mec.profiles import PROFILES
from mecroute.mec.zoo import build_zoo
from suite.paths import event
from suite.table import Row, at_most
from suite.timing import Plan, one_core, repeated

P50_BUDGET_US = 100.0
MEC_NODES = 8


def zoo_specs() -> list[ModelSpec]:
    return [spec for spec, _ in build_zoo(ZOO_DIR)]


def router_inputs(specs: list[ModelSpec]) -> tuple[ContextAnalysis, ResourceSnapshot]:
    """Eight nodes over the three site profiles, some busy, with learned statistics."""
    sites = list(PROFILES.values())
    nodes = []
    stats = []
    for index in range(MEC_NODES):
        profile = sites[index % len(sites)]
        busy = index % profile.slots
        node_id = f"mec-{profile.site}-{index + 1}"
        nodes.append(
            NodeStatus(
                node_id=node_id,
                site=profile.site,
                endpoint=f"http://10.0.{index}.10:9000",
                region=REGION,
                healthy=True,
                slots=profile.slots,
                free_slots=profile.slots - busy,
                queue_depth=0,
                queue_limit=profile.queue_limit,
                utilisation=busy / profile.slots,
                speed_factor=profile.speed_factor,
                site_rtt_ms=profile.site_rtt_ms,
                memory_budget_mb=profile.memory_budget_mb,
                hot_models=list(profile.preload),
                heartbeat_age_s=1.0,
            )
        )
        for model_id in profile.preload:
            stats.append(
                TierStat(
                    tier="mec",
                    node_id=node_id,
                    model_id=model_id,
                    latency_ewma_ms=40.0 + 5 * index,
                    latency_p95_ms=90.0 + 5 * index,
                    success_rate=0.995,
                    samples=200,
                )
            )
    snapshot = ResourceSnapshot(
        taken_at=time.time(),
        nodes=nodes,
        models=specs,
        cloud=CloudStatus(
            available=True, provider="simulator", region=REGION, backhaul_rtt_ms=60.0
        ),
        stats=stats,
    )
    request = InferenceRequest.model_validate(event("analyze_context")["request"])
    context = ContextAnalysis(
        request_id="bench-0001",
        request=request,
        task_type="qa",
        complexity=0.35,
        complexity_source="onnx",
        input_tokens=8,
        output_tokens=64,
        device_score=0.45,
        network_score=0.8,
        personal_data=[],
        effective_privacy=request.privacy,
        prompt_sha256=hashlib.sha256(request.prompt.encode()).hexdigest(),
        received_at=time.time(),
    )
    return context, snapshot


def run(plan: Plan) -> dict[str, Any]:
    context, snapshot = router_inputs(zoo_specs())
    weights = CriterionWeights()
    decision = router.route(context, snapshot, weights)
    options = sum(1 for _ in router.enumerate_options(snapshot))
    with one_core() as core:
        timing = repeated(lambda: router.route(context, snapshot, weights), plan, plan.router_calls)
    return {
        **timing,
        "core": core,
        "tiers": 3,
        "mec_nodes": len(snapshot.nodes),
        "models": len(snapshot.models),
        "options": options,
        "rejected": len(decision.rejected),
        "primary": decision.primary.label if decision.primary else None,
    }


def rows(r: dict[str, Any]) -> list[Row]:
    return [
        at_most(
            f"Router decision p50 (3 tiers, {r['mec_nodes']} MEC nodes, {r['options']} options)",
            f"{r['us']['p50']:.0f} µs (p99 {r['us']['p99']:.0f} µs; "
            f"{r['per_s_one_core']:,.0f} decisions/s on one core; rounds "
            f"{min(r['round_p50_us']):.0f}-{max(r['round_p50_us']):.0f} µs; "
            f"{r['p50_in_reference_loops']:.1f} reference loops)",
            r["us"]["p50"],
            P50_BUDGET_US,
            f"≤ {P50_BUDGET_US:.0f} µs",
        )
    ]
