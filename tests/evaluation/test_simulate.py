"""The workload simulator: deterministic for a seed, privacy kept by every policy, a report with
intervals over seeds, per SLA class, radio and path."""

import json
from pathlib import Path

import pytest

from mecroute.complexity.model import shipped
from mecroute.evaluation import experiment, simulate, workload
from mecroute.evaluation.control_plane import GATEWAY_P50_MS, edge_path, regional_path
from mecroute.evaluation.report import write_report
from mecroute.evaluation.summary import summarise


def run(models, seed: int, names=simulate.POLICY_NAMES, count: int = 300, path=None):
    jobs, _ = workload.build(count, seed, None)
    simulation = simulate.Simulation(jobs, models, seed, shipped())
    return jobs, [simulation.run(name, path or regional_path()) for name in names]


def test_same_seed_same_results_other_seed_other_results(models):
    _, first = run(models, seed=11, names=["random", "adaptive"])
    _, again = run(models, seed=11, names=["random", "adaptive"])
    _, other = run(models, seed=12, names=["random", "adaptive"])

    summaries = [summarise(r) for r in first]
    assert summaries == [summarise(r) for r in again]
    assert summaries != [summarise(r) for r in other]


@pytest.mark.parametrize("path", [regional_path(), edge_path()], ids=["regional", "edge"])
def test_no_policy_ever_serves_a_strict_request_in_the_cloud(models, path):
    jobs, runs = run(models, seed=5, path=path)
    strict = {job.index for job in jobs if job.request.privacy == "strict"}
    assert strict
    for policy_run in runs:
        served_in_cloud = {o.job for o in policy_run.outcomes if o.tier == "cloud"}
        assert not served_in_cloud & strict, policy_run.name


def test_the_oracle_is_an_upper_bound_on_utility(models):
    _, runs = run(models, seed=9)
    utility = {r.name: summarise(r)["utility"] for r in runs}
    assert all(utility["oracle"] >= value for value in utility.values())


def test_the_report_gives_intervals_per_class_radio_and_path(models, tmp_path: Path):
    result = experiment.run(
        120, [3, 4, 5], None, models, ["mec", "adaptive"], [regional_path(), edge_path()],
        shipped(), show_progress=False,
    )  # fmt: skip
    write_report(result, tmp_path)

    summary = (tmp_path / "summary.md").read_text()
    assert "synthetic workload" in summary
    assert "modelled" in summary
    assert "## regional path" in summary
    assert "## edge path" in summary
    assert "| **adaptive** |" in summary
    assert "±" in summary
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["seeds"] == [3, 4, 5]
    assert len(report["ground_truth"]) == 3
    regional = report["paths"]["regional"]
    assert any(
        "API Gateway" in part["name"] and part["source"] for part in regional["control_plane"]
    )
    adaptive = next(p for p in regional["policies"] if p["policy"] == "adaptive")
    assert set(adaptive["sla_met_by_class"]) == {
        "interactive_300ms", "standard_1200ms", "relaxed_4000ms"
    }  # fmt: skip
    assert set(adaptive["sla_met_by_radio"]) == {"5g", "lte", "wifi"}
    for figure in (adaptive["utility"], adaptive["routing_overhead_ms"]["p95"]):
        low, high = figure["ci"]
        assert low <= figure["mean"] <= high
        assert figure["n"] == 3
    edge = next(p for p in report["paths"]["edge"]["policies"] if p["policy"] == "adaptive")
    gateway = edge["routing_overhead_ms"]["p50"]["mean"]
    assert gateway == pytest.approx(GATEWAY_P50_MS, rel=0.25)
    assert gateway < adaptive["routing_overhead_ms"]["p50"]["mean"] - 100
    assert "paired by seed" in summary
    paired = report["adaptive_utility_minus"]["edge"]["mec"]
    assert paired["n"] == 3
    assert paired["ci"][0] <= paired["mean"] <= paired["ci"][1]
    for plot in ("sla_by_class.png", "utility_cost.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
