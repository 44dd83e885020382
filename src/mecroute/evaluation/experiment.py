"""Runs every policy on every routing path over several seeds (a new workload and ground truth
each) and gathers the per-seed summaries and their means with 95% intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mecroute.domain.registry import ModelSpec
from mecroute.evaluation import workload
from mecroute.evaluation.control_plane import RoutingPath
from mecroute.evaluation.intervals import aggregate, interval
from mecroute.evaluation.progress import ProgressBar
from mecroute.evaluation.simulate import Complexity, Simulation
from mecroute.evaluation.summary import summarise


@dataclass
class Experiment:
    """What was run, and its results: `per_seed[path][policy]` is one summary per seed."""

    source: str
    requests: int
    seeds: list[int]
    paths: list[RoutingPath]
    policies: list[str]
    per_seed: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    truths: list[dict[str, object]] = field(default_factory=list)

    def aggregated(self) -> dict[str, list[dict[str, Any]]]:
        """Per path, one entry per policy: every figure as {"mean", "ci", "n"}."""
        return {
            path: [aggregate(self.per_seed[path][name]) for name in self.policies]
            for path in self.per_seed
        }

    def paired_utility(self, reference: str = "adaptive") -> dict[str, dict[str, dict[str, Any]]]:
        """Per path, `reference`'s utility minus each other policy's, seed by seed (the same
        workload and world), with a 95% interval: the sharper comparison of two policies."""
        paired: dict[str, dict[str, dict[str, Any]]] = {}
        for path, runs in self.per_seed.items():
            if reference not in runs:
                continue
            ours = [s["utility"] for s in runs[reference]]
            paired[path] = {
                name: interval([a - s["utility"] for a, s in zip(ours, seeds, strict=True)])
                for name, seeds in runs.items()
                if name != reference
            }
        return paired

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requests": self.requests,
            "seeds": self.seeds,
            "interval": "95% Student's t over seeds",
            "paths": {
                path.name: {"control_plane": path.describe(), "policies": policies}
                for path, policies in zip(self.paths, self.aggregated().values(), strict=True)
            },
            "adaptive_utility_minus": self.paired_utility(),
            "ground_truth": self.truths,
        }


def run(
    requests: int,
    seeds: list[int],
    data_dir: Path | None,
    models: list[ModelSpec],
    policies: list[str],
    paths: list[RoutingPath],
    learned_complexity: Complexity | None,
    show_progress: bool = True,
) -> Experiment:
    experiment = Experiment("", requests, seeds, paths, policies)
    experiment.per_seed = {path.name: {name: [] for name in policies} for path in paths}
    total = len(seeds) * len(paths) * len(policies) * requests
    progress = ProgressBar(total, "simulating") if show_progress else None
    for seed in seeds:
        jobs, experiment.source = workload.build(requests, seed, data_dir)
        simulation = Simulation(jobs, models, seed, learned_complexity)
        experiment.truths.append(simulation.truth.describe())
        for path in paths:
            for name in policies:
                if progress:
                    progress.relabel(f"seed {seed} {path.name} {name}")
                result = simulation.run(name, path, progress)
                experiment.per_seed[path.name][name].append(summarise(result))
    return experiment
