"""The execute guard: what stands between a routed candidate and the call to its place.

The Execute state's Lambda and the edge gateway both run a candidate through
`guarded_execute` instead of calling the execute agent directly: the place's circuit breaker
admits the call (or refuses it at once with CircuitOpen, a TierUnavailable, so the pipeline
moves to the next fallback without waiting on a dead place) and learns how it went.
"""

from __future__ import annotations

from dataclasses import dataclass

from mecroute.agents import execute
from mecroute.agents.breakers import Breakers
from mecroute.domain.messages import CachePlan, Candidate, ContextAnalysis, ExecutionResult


@dataclass(frozen=True)
class Guards:
    breakers: Breakers | None = None


def guarded_execute(
    guards: Guards,
    context: ContextAnalysis,
    target: Candidate,
    plan: CachePlan,
    tiers: execute.Tiers,
    now: float,
) -> ExecutionResult:
    breakers = guards.breakers
    if breakers is None or plan.cached is not None:  # a cached answer calls no place
        return execute.execute(context, target, plan, tiers, now)
    breakers.admit(target)
    try:
        result = execute.execute(context, target, plan, tiers, now)
    except Exception as error:
        breakers.failed(target, error)
        raise
    breakers.succeeded(target)
    return result
