"""Replays a workload through each policy on a routing path in virtual time, and scores what
users would see with routing's own time counted.

Utility of a request: 1 when the answer is right and on time (end to end), minus its cost at
COST_WEIGHT per dollar (a right, on-time answer is worth one cent). Unserved requests score 0.
The oracle sees every option's outcome in hindsight and takes the best.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mecroute.adapters.memory import MemoryDecisionLog
from mecroute.agents import context as context_agent
from mecroute.agents import router
from mecroute.domain.estimates import routing_overhead
from mecroute.domain.messages import ContextAnalysis
from mecroute.domain.registry import ModelSpec
from mecroute.evaluation import policies
from mecroute.evaluation.control_plane import RoutingPath, regional_path
from mecroute.evaluation.ground_truth import GroundTruth
from mecroute.evaluation.learning_loop import DelayedLearning
from mecroute.evaluation.progress import ProgressBar
from mecroute.evaluation.workload import Job
from mecroute.evaluation.world import REGION, Attempt, World
from mecroute.mec.profiles import DEFAULT_SITES, SiteProfile

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
LEARNING_POLICIES = ("adaptive",)
Complexity = context_agent.ComplexityScorer
Policy = Callable[[policies.Situation], list[policies.Place]]


@dataclass(frozen=True)
class Outcome:
    """One request as its caller saw it; end to end = overhead + transit + execution."""

    job: int
    served: bool
    tier: str | None
    node_id: str | None
    model_id: str | None
    sla_ms: int
    sla_class: str
    radio: str
    correct: bool
    cost_usd: float
    fallbacks: int
    routing_overhead_ms: float  # routing's own time: the pipeline's states, or the gateway
    transit_ms: float  # the client's round trip to the region or to its site's gateway
    execution_ms: float  # every place tried, timed from the region or the gateway

    @property
    def end_to_end_ms(self) -> float:
        return self.routing_overhead_ms + self.transit_ms + self.execution_ms

    @property
    def sla_met(self) -> bool:
        return self.served and self.end_to_end_ms <= self.sla_ms

    @property
    def utility(self) -> float:
        return float(self.correct and self.sla_met) - COST_WEIGHT * self.cost_usd


@dataclass
class PolicyRun:
    name: str
    path: str = "regional"
    seed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def _rng_for(seed: int, job: Job, salt: object) -> np.random.Generator:
    """The same job draws the same luck at the same place (or path) under every policy."""
    return np.random.default_rng([seed, job.index, zlib.crc32(repr(salt).encode())])


class Simulation:
    """One seed: its workload and ground truth; runs any policy on any path over them."""

    def __init__(
        self,
        jobs: list[Job],
        models: list[ModelSpec],
        seed: int,
        learned_complexity: Complexity | None,
        truth: GroundTruth | None = None,
        sites: tuple[SiteProfile, ...] = DEFAULT_SITES,
        incidents: bool = True,
    ) -> None:
        self.jobs, self.models, self.seed, self.sites = jobs, models, seed, sites
        self.incidents = incidents
        self.truth = truth or GroundTruth.draw(seed, models, sites)
        self._learned = learned_complexity
        self._contexts: dict[tuple[int, bool], ContextAnalysis] = {}

    def run(
        self,
        name: str,
        path: RoutingPath | None = None,
        progress: ProgressBar | None = None,
    ) -> PolicyRun:
        path = path or regional_path()
        duration = self.jobs[-1].arrival_s if self.jobs else 1.0
        world = World(self.models, duration, self.truth, self.sites, self.incidents)
        learns = name in LEARNING_POLICIES
        learning = DelayedLearning(np.random.default_rng([self.seed, zlib.crc32(b"stream")]))
        choose = _policy(name)
        policy_rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        run = PolicyRun(name, path.name, self.seed)
        for job in self.jobs:
            origin = REGION if path.name == "regional" else world.home_node(job)
            snapshot = world.snapshot(
                job.arrival_s,
                learning.view(job.arrival_s) if learns else [],
                live_node=None if origin == REGION else origin,
                # The router knows the path's time by its prior, or learns it from records.
                overhead=learning.overhead(job.arrival_s, path.name)
                if learns
                else routing_overhead(path.name, None),
            )
            situation = policies.Situation(self._context(job, learns), snapshot, policy_rng)
            charge = _rng_for(self.seed, job, path.name)
            transit = world.client_hop_ms(job, origin, charge)
            overhead = path.overhead_ms(charge)
            if choose is None:
                places = _hindsight(world, job, situation, self.seed, origin, overhead + transit)
            else:
                places = choose(situation)
            outcome, tried = self._serve(
                world, job, places, origin, path, charge, overhead, transit
            )
            if learns:
                _learn(learning, job, tried, outcome)
                learning.record_overhead(job.arrival_s, path.name, outcome.routing_overhead_ms)
            run.outcomes.append(outcome)
            if progress:
                progress.step()
        return run

    def _context(self, job: Job, learned: bool) -> ContextAnalysis:
        """The context agent's analysis; computed once per job (it does not depend on policy)."""
        key = (job.index, learned)
        if key not in self._contexts:
            raw = job.request.model_dump(mode="json")
            scorer = self._learned if learned else None
            self._contexts[key] = context_agent.analyze(
                f"sim-{job.index}", raw, MemoryDecisionLog(), job.arrival_s, scorer
            )
        return self._contexts[key]

    def _serve(
        self,
        world: World,
        job: Job,
        places: list[policies.Place],
        origin: str,
        path: RoutingPath,
        charge: np.random.Generator,
        overhead: float,
        transit: float,
    ) -> tuple[Outcome, list[Tried]]:
        executed, tried = 0.0, list[Tried]()
        result: Attempt | None = None
        for place in places:
            if tried:
                overhead += path.fallback_ms(charge)
            start = job.arrival_s + (overhead + transit / 2 + executed) / 1000
            attempt = world.attempt(
                job, place, start, origin, _rng_for(self.seed, job, place), commit=True
            )
            executed += attempt.latency_ms
            tried.append(Tried(place, attempt))
            if attempt.ok:
                result = attempt
                break
        request = job.request
        outcome = Outcome(
            job=job.index,
            served=result is not None,
            tier=tried[-1].place[0] if result else None,
            node_id=tried[-1].place[1] if result else None,
            model_id=tried[-1].place[2] if result else None,
            sla_ms=request.sla.max_latency_ms,
            sla_class=job.sla_class,
            radio=request.network.radio,
            correct=bool(result and result.correct),
            cost_usd=result.cost_usd if result else 0.0,
            fallbacks=len(tried) - (1 if result else 0),
            routing_overhead_ms=overhead,
            transit_ms=transit,
            execution_ms=executed,
        )
        return outcome, tried


@dataclass(frozen=True)
class Tried:
    place: policies.Place
    attempt: Attempt


def _learn(learning: DelayedLearning, job: Job, tried: list[Tried], outcome: Outcome) -> None:
    """What the monitor agent emits: one event per place tried and sometimes the caller's
    verdict on the answer. Latency is what the router's estimate stands for, measured: the
    network and the tier (queue, load, compute) without routing's own time; a device's
    fetch and compute without the directive's trip (the router's device estimate has none)."""
    for item in tried:
        tier, node, model = item.place
        network = 0.0 if tier == "device" else outcome.transit_ms
        event = {
            "tier": tier,
            "node_id": node or "-",
            "model_id": model,
            "success": item.attempt.ok,
            "latency_ms": network + item.attempt.latency_ms if item.attempt.ok else None,
        }
        learning.record(job.arrival_s, event, outcome.correct if item.attempt.ok else None)


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


def _hindsight(
    world: World,
    job: Job,
    situation: policies.Situation,
    seed: int,
    origin: str,
    fixed_ms: float,
) -> list[policies.Place]:
    """The best place in hindsight, end to end on this path (`fixed_ms`: overhead + transit)."""
    best: tuple[float, policies.Place] | None = None
    for option in sorted(policies.allowed(situation), key=lambda a: a.estimate.latency_ms):
        place = policies.place(option)
        trial = world.attempt(
            job, place, job.arrival_s, origin, _rng_for(seed, job, place), commit=False
        )
        if not trial.ok:
            continue
        on_time = fixed_ms + trial.latency_ms <= job.request.sla.max_latency_ms
        utility = float(trial.correct and on_time) - COST_WEIGHT * trial.cost_usd
        if best is None or utility > best[0]:
            best = (utility, place)
    return [best[1]] if best else []
