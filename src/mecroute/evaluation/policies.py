"""Routing policies compared by the simulator. Each returns the places to try, in order.

Every policy obeys privacy (a legal limit, not a preference): options a request's privacy
forbids are never offered to any policy, so a strict request that only the cloud could
serve goes unserved under every policy alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mecroute.agents import router
from mecroute.domain.messages import ContextAnalysis, ResourceSnapshot
from mecroute.domain.request import CriterionWeights

MAX_TRIES = 4
Place = tuple[str, str | None, str]  # tier, node id, model id


@dataclass(frozen=True)
class Situation:
    """What a policy may look at: the analysed request and the resources it would be shown."""

    context: ContextAnalysis
    snapshot: ResourceSnapshot
    rng: np.random.Generator


def allowed(situation: Situation) -> list[router.Assessment]:
    """Options that privacy allows and that are up (every policy sees health probes)."""
    return [
        a
        for a in router.assess_options(situation.context, situation.snapshot)
        if not a.violation or a.violation[0] not in ("privacy", "health", "device")
    ]


def place(a: router.Assessment) -> Place:
    return (
        a.option.tier,
        a.option.node.node_id if a.option.node else None,
        a.option.model.model_id,
    )


def tier_only(tier: str) -> Callable[[Situation], list[Place]]:
    """Always that tier: the largest model there, least loaded node first."""

    def policy(situation: Situation) -> list[Place]:
        options = [a for a in allowed(situation) if a.option.tier == tier]
        options.sort(key=lambda a: (-a.option.model.size_mb, a.estimate.latency_ms))
        return [place(a) for a in options[:MAX_TRIES]]

    return policy


def random_policy(situation: Situation) -> list[Place]:
    options = allowed(situation)
    order = situation.rng.permutation(len(options))
    return [place(options[int(i)]) for i in order[:MAX_TRIES]]


class RoundRobin:
    def __init__(self) -> None:
        self._tiers = itertools.cycle(("device", "mec", "cloud"))

    def __call__(self, situation: Situation) -> list[Place]:
        options = allowed(situation)
        for _ in range(3):
            tier = next(self._tiers)
            chosen = [a for a in options if a.option.tier == tier]
            if chosen:
                rest = [a for a in options if a.option.tier != tier]
                return [place(a) for a in (chosen + rest)[:MAX_TRIES]]
        return []


def latency_greedy(situation: Situation) -> list[Place]:
    options = sorted(allowed(situation), key=lambda a: a.estimate.latency_ms)
    return [place(a) for a in options[:MAX_TRIES]]


def weighted(
    weights: CriterionWeights, scoring: router.Scoring
) -> Callable[[Situation], list[Place]]:
    """The router agent itself: constraints, then the weighted score, with fallbacks."""

    def policy(situation: Situation) -> list[Place]:
        decision = router.route(situation.context, situation.snapshot, weights, scoring)
        return [(c.tier, c.node_id, c.model_id) for c in decision.candidates]

    return policy


DEFAULT_WEIGHTS = CriterionWeights()
