"""eval-router metrics (routellm-mmlu definitions), random tie-breaks and bootstrap intervals."""

import numpy as np
import pytest

from mecroute.evaluation.router_metrics import (
    accuracy_curve,
    figures,
    oracle_figures,
    random_figures,
)


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


def test_random_routing_recovers_half_the_gap_and_the_oracle_more_than_all():
    mec, cloud = outcomes(4000)
    assert random_figures(mec, cloud).apgr == pytest.approx(0.5, abs=0.005)
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


def test_tied_scores_do_not_profit_from_file_order():
    # Given every prompt that gains from the cloud placed first in the file, and one score for all
    mec, cloud = outcomes(1000, seed=5)
    gains_first = np.argsort(-(cloud.astype(int) - mec.astype(int)), kind="stable")
    mec, cloud = mec[gains_first], cloud[gains_first]
    # When the score is constant, a stable sort would route in file order: the oracle's curve.
    # Then the figures are the random router's, whatever the order of the rows.
    tied = figures(np.zeros(1000), mec, cloud)
    reversed_rows = figures(np.zeros(1000), mec[::-1], cloud[::-1])
    assert tied.apgr == pytest.approx(0.5, abs=0.005)
    assert tied.apgr == pytest.approx(reversed_rows.apgr)


def test_tie_averaging_equals_the_mean_over_random_draws():
    # Scores with a few distinct values: the exact average over orders equals a sampled one.
    mec, cloud = outcomes(300, seed=2)
    scores = np.random.default_rng(3).integers(0, 4, 300).astype(float)
    rng = np.random.default_rng(4)
    sampled = []
    for _ in range(2000):
        jitter = rng.random(300) * 1e-3  # breaks ties only: values are 1 apart
        sampled.append(accuracy_curve(scores + jitter, mec, cloud))
    exact = accuracy_curve(scores, mec, cloud)
    assert np.abs(np.mean(sampled, axis=0) - exact).max() < 2e-3


def test_bootstrap_interval_brackets_the_figure_and_narrows_with_more_rows():
    mec, cloud = outcomes(4000, seed=7)
    gain = cloud.astype(float) - mec.astype(float)
    scores = gain + np.random.default_rng(8).normal(0, 1.5, len(gain))
    small = figures(scores[:400], mec[:400], cloud[:400], bootstrap=300, seed=1)
    large = figures(scores, mec, cloud, bootstrap=300, seed=1)
    for result in (small, large):
        assert result.apgr_interval is not None
        low, high = result.apgr_interval
        assert low < result.apgr < high
    assert np.diff(large.apgr_interval) < np.diff(small.apgr_interval)
    # seeded: the same interval twice
    assert figures(scores, mec, cloud, bootstrap=300, seed=1).apgr_interval == large.apgr_interval


def test_worse_scores_give_lower_apgr():
    mec, cloud = outcomes(2000, seed=3)
    gain = cloud.astype(float) - mec.astype(float)
    noise = np.random.default_rng(1).normal(0, 1.0, len(gain))
    assert figures(gain + noise, mec, cloud).apgr > figures(-gain + noise, mec, cloud).apgr
