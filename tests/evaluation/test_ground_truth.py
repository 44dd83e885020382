"""The simulator's ground truth: seeded, and drawn around the registry's priors, never equal."""

from dataclasses import replace

import pytest

from mecroute.evaluation.ground_truth import REGION_BACKHAUL_PRIOR_MS, GroundTruth, Spread
from mecroute.mec.profiles import DEFAULT_SITES


def test_same_seed_same_world_other_seed_other_world(models):
    first = GroundTruth.draw(3, models, DEFAULT_SITES)
    again = GroundTruth.draw(3, models, DEFAULT_SITES)
    other = GroundTruth.draw(4, models, DEFAULT_SITES)

    assert first == again
    assert first.models != other.models
    assert first.sites != other.sites


def test_the_truth_differs_from_the_registry_and_profiles(models):
    truth = GroundTruth.draw(3, models, DEFAULT_SITES)

    # Every model computes at a speed the registry does not state.
    assert all(abs(m.factor - 1.0) > 1e-6 for m in truth.models.values())
    # Every node's true speed and backhaul differ from what its profile advertises.
    for profile in DEFAULT_SITES:
        site = truth.sites[profile.node_id]
        assert site.speed_factor != profile.speed_factor
        assert site.region_rtt_ms != REGION_BACKHAUL_PRIOR_MS
    # Modelled accuracies are drawn; measured ones stay the data's.
    modelled = [m for m in models if m.outcome_reference is None]
    assert modelled
    assert any(truth.models[m.model_id].accuracy_easy != m.accuracy_easy for m in modelled)


def test_the_spread_controls_how_far_the_truth_strays(models):
    narrow = GroundTruth.draw(5, models, DEFAULT_SITES, Spread(latency_sigma=0.01))
    wide = GroundTruth.draw(5, models, DEFAULT_SITES, Spread(latency_sigma=1.0))

    def straying(truth: GroundTruth) -> float:
        return max(abs(m.factor - 1.0) for m in truth.models.values())

    assert straying(narrow) < 0.05 < straying(wide)


def test_compute_follows_the_truth_not_the_registry(models):
    import numpy as np

    truth = GroundTruth.draw(3, models, DEFAULT_SITES)
    model = models[0]
    slower = replace(
        truth,
        models={**truth.models, model.model_id: replace(truth.models[model.model_id], factor=4.0)},
    )
    base = truth.compute_ms(model, 100, 1.0, np.random.default_rng(1))
    slowed = slower.compute_ms(model, 100, 1.0, np.random.default_rng(1))

    assert slowed / base == pytest.approx(4.0 / truth.models[model.model_id].factor)
