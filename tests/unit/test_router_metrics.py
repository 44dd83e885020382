"""eval-router's metrics, with the routellm-mmlu README's definitions."""

import numpy as np
import pytest

from mecroute.evaluation.router_metrics import figures, oracle_figures, random_figures


def outcomes(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mec = rng.random(n) < 0.68
    cloud = np.where(mec, rng.random(n) < 0.92, rng.random(n) < 0.55)
    return mec, cloud


def test_endpoints_are_the_two_models_accuracies():
    mec, cloud = outcomes(1000)
    result = figures(np.zeros(1000), mec, cloud)
    assert result.mec_accuracy == pytest.approx(mec.mean())
    assert result.cloud_accuracy == pytest.approx(cloud.mean())


def test_random_routing_recovers_about_half_the_gap_and_the_oracle_more_than_all():
    mec, cloud = outcomes(4000)
    assert random_figures(mec, cloud).apgr == pytest.approx(0.5, abs=0.05)
    oracle = oracle_figures(mec, cloud)
    assert oracle.apgr > 1.0
    assert oracle.cpt50 is not None
    assert oracle.cpt50 < 0.15


def test_a_hand_computed_case():
    # Two prompts: only the first gains from the cloud, and it is scored first. A fraction f
    # routes round(f * 2) prompts (half up), so from f = 25% on it goes to the cloud.
    mec = np.array([False, True])
    cloud = np.array([True, True])
    result = figures(np.array([1.0, 0.0]), mec, cloud)
    assert result.cpt50 == 0.25
    assert result.cloud_share_for_95 == 0.25
    # PGR is 0 for the 25 fractions below 25% and 1 for the 76 from there.
    assert result.apgr == pytest.approx(76 / 101)


def test_worse_scores_give_lower_apgr():
    mec, cloud = outcomes(2000, seed=3)
    gain = cloud.astype(float) - mec.astype(float)
    noise = np.random.default_rng(1).normal(0, 1.0, len(gain))
    assert figures(gain + noise, mec, cloud).apgr > figures(-gain + noise, mec, cloud).apgr
