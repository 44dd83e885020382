"""The LiteLLM side-by-side: how rounds become a speed-up and a verdict, and the worker protocol."""

import sys

import pytest
from suite import litellm_side
from suite.litellm_side import LATENCY_26, OURS, SHUFFLE_3, Worker


def test_speed_up_is_the_median_of_paired_round_ratios() -> None:
    # Given three rounds where ours took 100, 200 (a noisy spell hit both sides) and 100 µs
    rounds = {
        OURS: [[100.0, 100.0], [200.0, 200.0], [100.0, 100.0]],
        LATENCY_26: [[400.0, 400.0], [800.0, 800.0], [300.0, 300.0]],
        SHUFFLE_3: [[50.0, 50.0], [100.0, 100.0], [50.0, 50.0]],
    }
    # When they are compared round by round
    sides = litellm_side.compare(rounds)
    # Then the noisy round still reads 4x, and the median of (4, 4, 3) is 4
    assert sides[LATENCY_26]["ours_faster_by"] == pytest.approx(4.0)
    assert sides[SHUFFLE_3]["ours_faster_by"] == pytest.approx(0.5)
    assert sides[OURS]["round_p50_us"] == [100.0, 200.0, 100.0]


def test_rows_judge_three_times_faster_than_latency_routing_and_faster_than_shuffle() -> None:
    rounds = {
        OURS: [[100.0]],
        LATENCY_26: [[350.0]],
        SHUFFLE_3: [[90.0]],
    }
    figures = {"litellm_version": "1.110.2", "rounds": 1, "sides": litellm_side.compare(rounds)}
    verdicts = [row.verdict for row in litellm_side.rows(figures)]
    assert verdicts == ["PASS", "MISS"]


def test_a_side_by_side_that_could_not_run_is_not_a_pass() -> None:
    rows = litellm_side.rows({"error": "could not install LiteLLM 1.110.2: pip exited 1\n..."})
    assert len(rows) == 2
    assert {row.verdict for row in rows} == {"MISS"}
    assert all("not measured: could not install LiteLLM" in row.value for row in rows)


def test_our_worker_decides_on_the_26_option_snapshot_a_round_at_a_time() -> None:
    worker = Worker(OURS, litellm_side.Path(sys.executable))
    try:
        worker.ready()
        samples = worker.round(5)
    finally:
        worker.stop()
    assert worker.facts["options"] == 26
    assert worker.facts["picked"]
    assert len(samples) == 5
    assert worker.process.returncode == 0
