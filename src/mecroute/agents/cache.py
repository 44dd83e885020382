"""Cache agent: load the chosen model where it will run; answer repeats from the cache."""

from __future__ import annotations

import hashlib
import time

from mecroute.adapters.ports import (
    MecNodes,
    ModelRegistry,
    NodeDirectory,
    ResponseCache,
    StatsStore,
)
from mecroute.agents.placement import evictions_to_fit, preload_choice
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import warm_load_ms
from mecroute.domain.messages import CachePlan, Candidate, ContextAnalysis
from mecroute.domain.registry import ModelSpec, NodeRecord


def cache_key(context: ContextAnalysis, model_id: str) -> str:
    """Same model, task, prompt and answer settings: an answer cut at 3 tokens never serves a
    request that allows 1,000."""
    request = context.request
    material = (
        f"{model_id}\n{context.task_type}\n{context.prompt_sha256}\n"
        f"{request.answer_limit}\n{request.temperature}"
    )
    return hashlib.sha256(material.encode()).hexdigest()


def cacheable(context: ContextAnalysis) -> bool:
    """Responses to private requests are never stored: the cache lives in the cloud region."""
    return context.effective_privacy == "none" and not context.personal_data


def prepare(
    context: ContextAnalysis,
    target: Candidate,
    registry: ModelRegistry,
    nodes: MecNodes,
    responses: ResponseCache,
    now: float,
    directory: NodeDirectory | None = None,
    stats: StatsStore | None = None,
) -> CachePlan:
    """Answer from the response cache, or make sure the target's model is resident.

    With the node directory and the learned statistics, warm loads evict the least-demanded
    models to fit the node's memory budget, and a request with SLA slack to spare preloads
    the node's most-demanded missing model for the requests after it.
    """
    if cacheable(context):
        cached = responses.get(cache_key(context, target.model_id), now)
        if cached is not None:
            return CachePlan(
                request_id=context.request_id,
                target=target,
                placement=target.placement,
                action="cache_hit",
                cached=cached,
            )
    if target.tier != "mec":
        return CachePlan(
            request_id=context.request_id, target=target, placement=target.placement, action="none"
        )
    if not target.endpoint:
        raise TierUnavailable(f"{target.label}: node endpoint unknown")
    models = {m.model_id: m for m in registry.list_models()}
    model = models.get(target.model_id)
    if model is None:
        raise TierUnavailable(f"{target.label}: model {target.model_id} is not in the registry")
    node_id = target.node_id or ""
    node = _node(directory, target.node_id)
    demand = _demand(stats, target.node_id)
    started = time.perf_counter()
    evicted: list[str] = []
    resident = list(node.hot_models) if node else []
    if target.placement != "hot":
        if node is not None:
            evicted = evictions_to_fit(model, resident, models, node.memory_budget_mb, demand)
            for model_id in evicted:
                nodes.evict(target.endpoint, node_id, model_id)
            resident = [m for m in resident if m not in evicted]
        nodes.load(target.endpoint, node_id, model.model_id, model.artifact_key, model.sha256)
        resident.append(model.model_id)
    preloaded = _preload(context, target, node, resident, models, demand, nodes)
    return CachePlan(
        request_id=context.request_id,
        target=target,
        placement="hot",
        action="none" if target.placement == "hot" else "loaded",
        load_ms=round((time.perf_counter() - started) * 1000, 3),
        evicted=evicted,
        preloaded=preloaded,
    )


def _node(directory: NodeDirectory | None, node_id: str | None) -> NodeRecord | None:
    if directory is None or node_id is None:
        return None
    return next((n for n in directory.list_nodes() if n.node_id == node_id), None)


def _demand(stats: StatsStore | None, node_id: str | None) -> dict[str, int]:
    if stats is None:
        return {}
    return {
        s.model_id: s.samples
        for s in stats.list_stats()
        if s.tier == "mec" and s.node_id == node_id
    }


def _preload(
    context: ContextAnalysis,
    target: Candidate,
    node: NodeRecord | None,
    resident: list[str],
    models: dict[str, ModelSpec],
    demand: dict[str, int],
    nodes: MecNodes,
) -> list[str]:
    if node is None or not target.endpoint:
        return []
    choice = preload_choice(resident, models, node.memory_budget_mb, demand)
    slack = context.request.sla.max_latency_ms - target.predicted_latency_ms
    if choice is None or slack < warm_load_ms(choice):
        return []
    try:
        node_id = target.node_id or ""
        nodes.load(target.endpoint, node_id, choice.model_id, choice.artifact_key, choice.sha256)
    except TierUnavailable:
        return []  # a failed preload costs this request nothing more
    return [choice.model_id]
