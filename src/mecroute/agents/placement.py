"""Model placement on a MEC node: what to evict to fit a model, and what to preload.

Demand is what the learning loop observed: the number of outcomes per (node, model) in
the statistics table. Eviction drops the least-demanded resident models first; preloading
picks the most-demanded model that is not resident and fits without evicting anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from mecroute.domain.errors import TierUnavailable
from mecroute.domain.registry import ModelSpec

# A model must have served this many requests on a node before it earns a preload there.
PRELOAD_MIN_DEMAND = 5


def evictions_to_fit(
    incoming: ModelSpec,
    resident: list[str],
    models: Mapping[str, ModelSpec],
    budget_mb: float,
    demand: Mapping[str, int],
) -> list[str]:
    """Resident models to evict, least demanded first, so `incoming` fits the budget."""
    if incoming.memory_mb > budget_mb:
        raise TierUnavailable(
            f"{incoming.model_id} needs {incoming.memory_mb:.0f} MB, the node has {budget_mb:.0f}"
        )
    used = sum(models[m].memory_mb for m in resident if m in models)
    evict: list[str] = []
    for model_id in sorted(
        (m for m in resident if m in models and m != incoming.model_id),
        key=lambda m: (demand.get(m, 0), m),
    ):
        if used + incoming.memory_mb <= budget_mb:
            break
        evict.append(model_id)
        used -= models[model_id].memory_mb
    return evict


def preload_choice(
    resident: list[str],
    models: Mapping[str, ModelSpec],
    budget_mb: float,
    demand: Mapping[str, int],
) -> ModelSpec | None:
    """The most-demanded MEC model that is not resident and fits in the free memory."""
    free = budget_mb - sum(models[m].memory_mb for m in resident if m in models)
    candidates = [
        models[m]
        for m, count in demand.items()
        if m in models
        and "mec" in models[m].tiers
        and m not in resident
        and count >= PRELOAD_MIN_DEMAND
        and models[m].memory_mb <= free
    ]
    return max(candidates, key=lambda spec: (demand[spec.model_id], spec.model_id), default=None)
