"""Cache agent: load the chosen model where it will run; answer repeats from the cache."""

from __future__ import annotations

import hashlib
import time

from mecroute.adapters.ports import MecNodes, ModelRegistry, ResponseCache
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.messages import CachePlan, Candidate, ContextAnalysis


def cache_key(context: ContextAnalysis, model_id: str) -> str:
    material = f"{model_id}\n{context.task_type}\n{context.prompt_sha256}"
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
) -> CachePlan:
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
    if target.tier != "mec" or target.placement == "hot":
        return CachePlan(
            request_id=context.request_id, target=target, placement=target.placement, action="none"
        )
    model = next((m for m in registry.list_models() if m.model_id == target.model_id), None)
    if model is None or not target.endpoint:
        raise TierUnavailable(f"{target.label}: model or node endpoint unknown")
    started = time.perf_counter()
    nodes.load(target.endpoint, model.model_id, model.artifact_key, model.sha256)
    return CachePlan(
        request_id=context.request_id,
        target=target,
        placement="hot",
        action="loaded",
        load_ms=round((time.perf_counter() - started) * 1000, 3),
    )
