"""Model placement on a node: evict by demand to fit memory, preload what is in demand."""

import pytest

from mecroute.agents.placement import PRELOAD_MIN_DEMAND, evictions_to_fit, preload_choice
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.registry import ModelSpec


def spec(model_id: str, memory_mb: float, tiers=("mec",)) -> ModelSpec:
    return ModelSpec(
        model_id=model_id,
        tiers=list(tiers),
        size_mb=memory_mb,
        memory_mb=memory_mb,
        latency_ms=10,
        accuracy=0.5,
        accuracy_easy=0.8,
        accuracy_hard=0.2,
    )


MODELS = {m.model_id: m for m in (spec("a", 30), spec("b", 20), spec("c", 40), spec("d", 10))}


def test_nothing_is_evicted_when_the_model_fits():
    assert evictions_to_fit(MODELS["d"], ["a", "b"], MODELS, 64, {}) == []


def test_the_least_demanded_models_go_first():
    demand = {"a": 50, "b": 2}
    assert evictions_to_fit(MODELS["c"], ["a", "b"], MODELS, 75, demand) == ["b"]
    assert evictions_to_fit(MODELS["c"], ["a", "b"], MODELS, 45, demand) == ["b", "a"]


def test_a_model_larger_than_the_node_is_refused_without_evicting():
    with pytest.raises(TierUnavailable, match="needs 40 MB"):
        evictions_to_fit(MODELS["c"], ["a"], MODELS, 32, {})


def test_preload_picks_the_most_demanded_missing_model_that_fits():
    demand = {"b": PRELOAD_MIN_DEMAND + 5, "c": PRELOAD_MIN_DEMAND + 50, "d": PRELOAD_MIN_DEMAND}
    # c is most wanted but does not fit next to a; b is next
    assert preload_choice(["a"], MODELS, 64, demand) == MODELS["b"]
    assert preload_choice(["a", "b"], MODELS, 64, demand) == MODELS["d"]


def test_no_preload_without_enough_demand_or_for_device_only_models():
    assert preload_choice([], MODELS, 64, {"b": PRELOAD_MIN_DEMAND - 1}) is None
    device_only = {**MODELS, "e": spec("e", 1, tiers=("device",))}
    assert preload_choice([], device_only, 64, {"e": 100}) is None
