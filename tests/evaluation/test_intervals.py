"""Means over seeds with 95% intervals: Student's t, checked against worked values."""

import math

import pytest

from mecroute.evaluation.intervals import aggregate, interval, t975


def test_interval_of_five_values_uses_t_with_four_degrees_of_freedom():
    result = interval([1.0, 2.0, 3.0, 4.0, 5.0])

    # s.d. sqrt(2.5), standard error sqrt(0.5), t(0.975, 4) = 2.776
    half = 2.776 * math.sqrt(0.5)
    assert result["mean"] == 3.0
    assert result["ci"] == pytest.approx([3.0 - half, 3.0 + half])
    assert result["n"] == 5


def test_t_quantiles_fall_towards_the_normal():
    assert t975(1) == 12.706
    assert t975(30) == 2.042
    assert t975(200) == 1.96
    with pytest.raises(ValueError, match="at least two values"):
        t975(0)


def test_equal_values_and_a_single_value_have_no_width():
    assert interval([0.5, 0.5, 0.5])["ci"] == [0.5, 0.5]
    assert interval([0.7]) == {"mean": 0.7, "ci": [0.7, 0.7], "n": 1}


def test_aggregate_keeps_the_shape_and_skips_missing_figures():
    summaries = [
        {"policy": "adaptive", "utility": 0.4, "by_class": {"a": 1.0, "b": None}},
        {"policy": "adaptive", "utility": 0.6, "by_class": {"a": 0.0, "b": 0.5}},
    ]

    merged = aggregate(summaries)

    assert merged["policy"] == "adaptive"
    assert merged["utility"]["mean"] == pytest.approx(0.5)
    assert merged["utility"]["ci"][0] < 0.4
    assert merged["utility"]["ci"][1] > 0.6
    assert merged["by_class"]["b"] == {"mean": 0.5, "ci": [0.5, 0.5], "n": 1}


def test_a_paired_difference_is_the_interval_of_the_per_seed_differences():
    from mecroute.evaluation.experiment import Experiment

    experiment = Experiment("test", 10, [1, 2, 3], [], ["adaptive", "mec"])
    experiment.per_seed = {
        "edge": {
            "adaptive": [{"utility": u} for u in (0.50, 0.60, 0.70)],
            "mec": [{"utility": u} for u in (0.40, 0.52, 0.58)],
        }
    }

    paired = experiment.paired_utility()["edge"]["mec"]

    expected = interval([0.10, 0.08, 0.12])
    assert paired["mean"] == pytest.approx(expected["mean"])
    assert paired["ci"] == pytest.approx(expected["ci"])
    assert paired["ci"][0] > 0  # seeds vary a lot, but adaptive wins on each one
