"""The workload simulator: deterministic for a seed, privacy kept by every policy, a report."""

import json
from pathlib import Path

import pytest

from mecroute.complexity.model import shipped
from mecroute.evaluation import simulate, workload
from mecroute.local.runtime import ZOO_DIR
from mecroute.mec.zoo import build_zoo


@pytest.fixture(scope="module")
def models():
    return [spec for spec, _ in build_zoo(ZOO_DIR)]


def run(models, seed: int, names=simulate.POLICY_NAMES, count: int = 300):
    jobs, source = workload.build(count, seed, None)
    return jobs, source, simulate.simulate(jobs, models, list(names), seed, shipped(), False)


def test_same_seed_same_results_other_seed_other_results(models):
    _, _, first = run(models, seed=11, names=["random", "adaptive"])
    _, _, again = run(models, seed=11, names=["random", "adaptive"])
    _, _, other = run(models, seed=12, names=["random", "adaptive"])

    summaries = [simulate.summarise(r) for r in first]
    assert summaries == [simulate.summarise(r) for r in again]
    assert summaries != [simulate.summarise(r) for r in other]


def test_no_policy_ever_serves_a_strict_request_in_the_cloud(models):
    jobs, _, runs = run(models, seed=5)
    strict = {job.index for job in jobs if job.request.privacy == "strict"}
    assert strict
    for policy_run in runs:
        served_in_cloud = {o.job for o in policy_run.outcomes if o.tier == "cloud"}
        assert not served_in_cloud & strict, policy_run.name


def test_the_report_has_a_table_plots_and_labels_its_workload(models, tmp_path: Path):
    _, source, runs = run(models, seed=3, count=120)
    simulate.write_outputs(runs, source, 3, tmp_path)

    summary = (tmp_path / "summary.md").read_text()
    assert "synthetic workload" in summary
    assert "modelled" in summary
    for name in simulate.POLICY_NAMES:
        assert f"| {name} |" in summary or f"| **{name}** |" in summary
    results = json.loads((tmp_path / "results.json").read_text())
    assert {p["policy"] for p in results["policies"]} == set(simulate.POLICY_NAMES)
    for plot in ("latency_cdf.png", "cost_accuracy.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_oracle_is_an_upper_bound_on_utility(models):
    _, _, runs = run(models, seed=9)
    utility = {r.name: simulate.summarise(r)["utility"] for r in runs}
    assert all(utility["oracle"] >= value for value in utility.values())
