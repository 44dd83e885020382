"""The execute guard: what stands between a routed candidate and the call to its place.

The Execute state's Lambda and the edge gateway both run a candidate through
`guarded_execute` instead of calling the execute agent directly: the caller's budget reserves
the candidate's predicted cost (or refuses it with BudgetExceeded, a failed attempt, so a
cheaper fallback may still serve), the place's circuit breaker admits the call (or refuses it
at once with CircuitOpen, a TierUnavailable, so the pipeline moves to the next fallback
without waiting on a dead place); then both learn how it went.
"""

from __future__ import annotations

from dataclasses import dataclass

from mecroute.agents import execute
from mecroute.agents.breakers import Breakers
from mecroute.agents.spend import Spend
from mecroute.domain.messages import CachePlan, Candidate, ContextAnalysis, ExecutionResult


@dataclass(frozen=True)
class Guards:
    breakers: Breakers | None = None
    spend: Spend | None = None


def guarded_execute(
    guards: Guards,
    context: ContextAnalysis,
    target: Candidate,
    plan: CachePlan,
    tiers: execute.Tiers,
    now: float,
) -> ExecutionResult:
    if plan.cached is not None:  # a cached answer calls no place and costs nothing
        return execute.execute(context, target, plan, tiers, now)
    breakers, spend = guards.breakers, guards.spend
    hold = spend.reserve(context, target) if spend else None
    try:
        if breakers:
            breakers.admit(target)
        result = execute.execute(context, target, plan, tiers, now)
    except Exception as error:
        if breakers:
            breakers.failed(target, error)
        if spend:
            spend.release(hold)
        raise
    if breakers:
        breakers.succeeded(target)
    if spend:
        spend.settle(context, target, hold, result.cost_usd)
    return result
