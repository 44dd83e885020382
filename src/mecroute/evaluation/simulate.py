"""Replays a workload through each policy in virtual time and scores what users would see.

Utility of a request: 1 when the answer is right and on time, minus its cost at
COST_WEIGHT per dollar (a right, on-time answer is worth one cent). Unserved requests
score 0. The oracle sees every option's outcome in hindsight and takes the best.
"""

from __future__ import annotations

import statistics
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mecroute.adapters.memory import MemoryDecisionLog
from mecroute.agents import context as context_agent
from mecroute.agents import router
from mecroute.agents.learning import fold
from mecroute.domain.messages import ContextAnalysis, TierStat
from mecroute.domain.registry import ModelSpec
from mecroute.evaluation import policies
from mecroute.evaluation.workload import Job
from mecroute.evaluation.world import Attempt, World

COST_WEIGHT = 100.0
POLICY_NAMES = (
    "device",
    "mec",
    "cloud",
    "random",
    "round-robin",
    "latency-greedy",
    "static-weights",
    "adaptive",
    "oracle",
)
Complexity = context_agent.ComplexityScorer


@dataclass
class Outcome:
    job: int
    served: bool
    tier: str | None
    latency_ms: float
    sla_ms: int
    correct: bool
    cost_usd: float
    fallbacks: int

    @property
    def sla_met(self) -> bool:
        return self.served and self.latency_ms <= self.sla_ms

    @property
    def utility(self) -> float:
        return float(self.correct and self.sla_met) - COST_WEIGHT * self.cost_usd


@dataclass
class PolicyRun:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)


class ProgressBar:
    """A progress bar on stderr (no dependency): redrawn in place on a terminal, a line per
    quarter otherwise, so logs stay readable."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self._shown = max(total, 1), label, 0, 0
        self.interactive = sys.stderr.isatty()

    def step(self) -> None:
        self.done += 1
        percent = 100 * self.done // self.total
        step = 1 if self.interactive else 25
        if percent == self._shown or percent % step:
            return
        self._shown = percent
        bar = "#" * (percent // 4) + "." * (25 - percent // 4)
        end = "\n" if self.done >= self.total or not self.interactive else ""
        sys.stderr.write(f"\r{self.label:<15} [{bar}] {percent:3d}%{end}")
        sys.stderr.flush()


def _rng_for(seed: int, job: Job, place: policies.Place) -> np.random.Generator:
    """The same job at the same place draws the same luck under every policy."""
    return np.random.default_rng([seed, job.index, zlib.crc32(repr(place).encode())])


def run_policy(
    name: str,
    jobs: list[Job],
    models: list[ModelSpec],
    seed: int,
    learned_complexity: Complexity | None,
    show_progress: bool = True,
) -> PolicyRun:
    world = World(models, total_s=jobs[-1].arrival_s if jobs else 1.0)
    stats: dict[tuple[str, str, str], TierStat] = {}
    history = MemoryDecisionLog()
    choose = _policy(name)
    policy_rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    run = PolicyRun(name)
    progress = ProgressBar(len(jobs), name) if show_progress else None
    for job in jobs:
        context = _context(job, history, learned_complexity if name == "adaptive" else None)
        learning = name == "adaptive"
        snapshot = world.snapshot(job.arrival_s, list(stats.values()) if learning else [])
        situation = policies.Situation(context, snapshot, policy_rng)
        if name == "oracle":
            places = _hindsight(world, job, situation, seed)
        else:
            assert choose is not None
            places = choose(situation)
        outcome = _serve(world, job, places, seed, stats if learning else None)
        run.outcomes.append(outcome)
        if progress:
            progress.step()
    return run


Policy = Callable[[policies.Situation], list[policies.Place]]


def _policy(name: str) -> Policy | None:
    if name in ("device", "mec", "cloud"):
        return policies.tier_only(name)
    chosen: dict[str, Policy | None] = {
        "random": policies.random_policy,
        "round-robin": policies.RoundRobin(),
        "latency-greedy": policies.latency_greedy,
        "static-weights": policies.weighted(policies.DEFAULT_WEIGHTS, router.ORIGINAL_SCORING),
        "adaptive": policies.weighted(policies.DEFAULT_WEIGHTS, router.Scoring()),
        "oracle": None,
    }
    return chosen[name]


def _context(job: Job, history: MemoryDecisionLog, learned: Complexity | None) -> ContextAnalysis:
    raw = job.request.model_dump(mode="json")
    return context_agent.analyze(f"sim-{job.index}", raw, history, job.arrival_s, learned)


def _hindsight(
    world: World, job: Job, situation: policies.Situation, seed: int
) -> list[policies.Place]:
    best: tuple[float, policies.Place] | None = None
    for place in policies.latency_greedy(situation) + _all_places(situation):
        tier, node, model = place
        trial = world.attempt(
            job, tier, node, model, job.arrival_s, _rng_for(seed, job, place), commit=False
        )
        if not trial.ok:
            continue
        on_time = trial.latency_ms <= job.request.sla.max_latency_ms
        utility = float(trial.correct and on_time) - COST_WEIGHT * trial.cost_usd
        if best is None or utility > best[0]:
            best = (utility, place)
    return [best[1]] if best else []


def _all_places(situation: policies.Situation) -> list[policies.Place]:
    return [policies.place(a) for a in policies.allowed(situation)]


def _serve(
    world: World,
    job: Job,
    places: list[policies.Place],
    seed: int,
    stats: dict[tuple[str, str, str], TierStat] | None,
) -> Outcome:
    elapsed, fallbacks = 0.0, 0
    for place in places:
        tier, node, model = place
        start = job.arrival_s + elapsed / 1000
        attempt: Attempt = world.attempt(
            job, tier, node, model, start, _rng_for(seed, job, place), commit=True
        )
        elapsed += attempt.latency_ms
        if stats is not None:
            key = (tier, node or "-", model)
            event = {
                "tier": tier,
                "node_id": node or "-",
                "model_id": model,
                "success": attempt.ok,
                "latency_ms": attempt.latency_ms if attempt.ok else None,
            }
            stats[key] = fold(stats.get(key), event)
        if attempt.ok:
            return Outcome(
                job.index,
                True,
                tier,
                elapsed,
                job.request.sla.max_latency_ms,
                attempt.correct,
                attempt.cost_usd,
                fallbacks,
            )
        fallbacks += 1
    return Outcome(
        job.index, False, None, elapsed, job.request.sla.max_latency_ms, False, 0.0, fallbacks
    )


def summarise(run: PolicyRun) -> dict[str, object]:
    outcomes = run.outcomes
    count = max(1, len(outcomes))
    per_tier: dict[str, dict[str, float]] = {}
    for tier in ("device", "mec", "cloud"):
        latencies = sorted(o.latency_ms for o in outcomes if o.tier == tier)
        if latencies:
            per_tier[tier] = {
                "requests": len(latencies),
                "p50_ms": _quantile(latencies, 0.5),
                "p95_ms": _quantile(latencies, 0.95),
                "p99_ms": _quantile(latencies, 0.99),
            }
    return {
        "policy": run.name,
        "accuracy": sum(o.correct for o in outcomes) / count,
        "sla_attainment": sum(o.sla_met for o in outcomes) / count,
        "served": sum(o.served for o in outcomes) / count,
        "cost_per_1000_usd": 1000 * sum(o.cost_usd for o in outcomes) / count,
        "cloud_share": sum(o.tier == "cloud" for o in outcomes) / count,
        "fallbacks": sum(o.fallbacks for o in outcomes),
        "utility": statistics.fmean(o.utility for o in outcomes) if outcomes else 0.0,
        "latency": per_tier,
    }


def _quantile(ordered: list[float], q: float) -> float:
    return round(float(np.quantile(np.array(ordered), q)), 1)


def simulate(
    jobs: list[Job],
    models: list[ModelSpec],
    names: list[str],
    seed: int,
    learned_complexity: Complexity | None,
    show_progress: bool = True,
) -> list[PolicyRun]:
    return [
        run_policy(name, jobs, models, seed, learned_complexity, show_progress) for name in names
    ]


def write_outputs(
    runs: list[PolicyRun], source: str, seed: int, report_dir: Path
) -> list[dict[str, object]]:
    from mecroute.evaluation.report import write_report

    summaries = [summarise(run) for run in runs]
    write_report(runs, summaries, source, seed, report_dir)
    return summaries
