"""The execute guard's spend half, and what the resource agent and GET /v1/usage read of it.

Before a paid call, a caller with a budget reserves the candidate's predicted cost against its
day and month in one conditional transaction (`SpendLedger.reserve`): of concurrent requests
racing the same budget only those that fit get through, the others are refused with
BudgetExceeded (a failed attempt: the next, cheaper candidate may still fit). After the call
the reservation is settled to the answer's actual cost, or released if the call failed; both
are written once per attempt, whatever retries happen. A caller without a budget reserves
nothing: its answers' costs are only added up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mecroute.adapters.ports import Charge, SpendLedger
from mecroute.domain.errors import BudgetExceeded
from mecroute.domain.messages import Candidate, ContextAnalysis
from mecroute.domain.spend import (
    PERIODS,
    CallerBudget,
    Period,
    Tenants,
    Usage,
    period_key,
    resets_at,
    standing,
)

# Usage items outlive their month by about a year (the caller's history); holds by a day.
USAGE_KEPT_S = 400 * 86_400
HOLD_KEPT_S = 86_400


@dataclass(frozen=True)
class Hold:
    """One attempt's reservation: settled or released against the periods it was made in."""

    key: str
    amount: float
    user_id: str
    at: float


@dataclass
class Spend:
    ledger: SpendLedger
    tenants: Tenants
    clock: Callable[[], float] = time.time

    def usage(self, user_id: str) -> Usage:
        now = self.clock()
        budget = self.tenants.budget_for(user_id)
        day, month = (
            standing(period, *self.ledger.read(period_key(user_id, period, now)), budget, now)
            for period in PERIODS
        )
        return Usage(user_id=user_id, day=day, month=month)

    def caller_budget(self, user_id: str) -> CallerBudget | None:
        """What is left of the caller's tightest budget; None (and no read) without a limit."""
        if self.tenants.budget_for(user_id).unlimited:
            return None
        tightest = self.usage(user_id).tightest()
        if tightest is None or tightest.remaining_usd is None:
            return None
        return CallerBudget(remaining_usd=tightest.remaining_usd, detail=tightest.describe(user_id))

    def reserve(self, context: ContextAnalysis, target: Candidate) -> Hold | None:
        """Reserve the target's predicted cost, or raise BudgetExceeded naming the budget."""
        user_id, amount = context.request.user_id, target.predicted_cost_usd
        budget = self.tenants.budget_for(user_id)
        if budget.unlimited or amount <= 0:
            return None
        now = self.clock()
        hold = Hold(f"hold#{context.request_id}#{target.label}", amount, user_id, now)
        kept = resets_at("month", now) + USAGE_KEPT_S
        charges = [
            Charge(period_key(user_id, period, now), amount, kept, budget.limit(period))
            for period in PERIODS
        ]
        refused = self.ledger.reserve(hold.key, charges, now + HOLD_KEPT_S)
        if refused is None:
            return hold
        period: Period = "day" if refused == charges[0].key else "month"
        words = getattr(self.usage(user_id), period).describe(user_id)
        raise BudgetExceeded(f"{target.label} would cost about ${amount:.6f}; {words}")

    def settle(self, context: ContextAnalysis, target: Candidate, hold: Hold | None,
               cost_usd: float) -> None:  # fmt: skip
        """Count the answer's actual cost (and the answer) in the caller's day and month."""
        if hold is None and cost_usd <= 0:
            return
        user_id = context.request.user_id
        at = hold.at if hold else self.clock()
        key = hold.key if hold else f"paid#{context.request_id}#{target.label}"
        delta = cost_usd - (hold.amount if hold else 0.0)
        self._post(key, user_id, at, delta, 1, reserved=hold is not None)

    def release(self, hold: Hold | None) -> None:
        """Give a failed attempt's reservation back."""
        if hold is not None:
            self._post(hold.key, hold.user_id, hold.at, -hold.amount, 0, reserved=True)

    def _post(self, key: str, user_id: str, at: float, amount: float, answers: int,
              reserved: bool) -> None:  # fmt: skip
        kept = resets_at("month", at) + USAGE_KEPT_S
        charges = [Charge(period_key(user_id, p, at), amount, kept, None, answers) for p in PERIODS]
        self.ledger.settle(key, charges, at + HOLD_KEPT_S, reserved)
