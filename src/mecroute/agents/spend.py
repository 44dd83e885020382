"""The execute guard's spend half, and what the resource agent and GET /v1/usage read of it.

Before a paid call, the attempt opens a hold on the caller's usage item for the month: one
conditional write adds the candidate's predicted cost to the day and the month, under the
caller's limits when it has a budget. Of concurrent requests racing the same budget only
those that fit get through (DynamoDB applies one item's conditional update atomically); the
others are refused with BudgetExceeded (a failed attempt: the next, cheaper candidate may
still fit). After the call one write closes the hold, adding the difference to the actual cost
and the answer, or taking the reservation back if the call failed. The hold is what makes
each write count once: a retried open finds it open and adds nothing, a retried close finds
it closed and adds nothing. A caller without a budget opens a hold too, with no limit: its
answers' costs are counted once, the same way. A call the Lambda runs again after its close
(a retried Execute after its answer was counted) is a new paid call: it is reserved and
counted as one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mecroute.adapters.ports import Charge, SpendLedger
from mecroute.domain.errors import BudgetExceeded
from mecroute.domain.messages import Candidate, ContextAnalysis
from mecroute.domain.spend import (
    Budget,
    CallerBudget,
    Tenants,
    Usage,
    period_key,
    period_label,
    resets_at,
    standing,
)

# Usage items outlive their month by about a year (the caller's history).
USAGE_KEPT_S = 400 * 86_400


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
        spent = self.ledger.read(period_key(user_id, "month", now), period_label("day", now))
        return Usage(
            user_id=user_id,
            day=standing("day", spent.day_usd, spent.day_answers, budget, now),
            month=standing("month", spent.month_usd, spent.month_answers, budget, now),
        )

    def caller_budget(self, user_id: str) -> CallerBudget | None:
        """What is left of the caller's tightest budget; None (and no read) without a limit."""
        if self.tenants.budget_for(user_id).unlimited:
            return None
        tightest = self.usage(user_id).tightest()
        if tightest is None or tightest.remaining_usd is None:
            return None
        return CallerBudget(remaining_usd=tightest.remaining_usd, detail=tightest.describe(user_id))

    def reserve(self, context: ContextAnalysis, target: Candidate) -> Hold | None:
        """Reserve the target's predicted cost, or raise BudgetExceeded naming the budget.
        A call predicted to cost nothing holds nothing."""
        user_id, amount = context.request.user_id, target.predicted_cost_usd
        if amount <= 0:
            return None
        budget = self.tenants.budget_for(user_id)
        hold = Hold(f"hold#{context.request_id}#{target.label}", amount, user_id, self.clock())
        refused = self.ledger.open(hold.key, self._charge(hold, amount, 0, budget))
        if refused is None:
            return hold
        words = getattr(self.usage(user_id), refused).describe(user_id)
        raise BudgetExceeded(f"{target.label} would cost about ${amount:.6f}; {words}")

    def settle(self, context: ContextAnalysis, target: Candidate, hold: Hold | None,
               cost_usd: float) -> None:  # fmt: skip
        """Count the answer's actual cost (and the answer) in the caller's day and month, once.
        An answer that cost something although nothing was held (predicted free) opens a hold
        at no cost first, so that a retried write within its count adds nothing either."""
        if hold is None:
            if cost_usd <= 0:
                return
            key = f"paid#{context.request_id}#{target.label}"
            hold = Hold(key, 0.0, context.request.user_id, self.clock())
            self.ledger.open(hold.key, self._charge(hold, 0.0, 0))
        self.ledger.close(hold.key, self._charge(hold, cost_usd - hold.amount, 1))

    def release(self, hold: Hold | None) -> None:
        """Give a failed attempt's reservation back."""
        if hold is not None:
            self.ledger.close(hold.key, self._charge(hold, -hold.amount, 0))

    @staticmethod
    def _charge(hold: Hold, amount: float, answers: int, budget: Budget | None = None) -> Charge:
        """A charge to the caller's month and day in which the hold was opened, under the
        budget's limits when one is given (an opening; closing needs none)."""
        return Charge(
            account=period_key(hold.user_id, "month", hold.at),
            day=period_label("day", hold.at),
            amount=amount,
            kept_until=resets_at("month", hold.at) + USAGE_KEPT_S,
            day_limit=budget.limit("day") if budget else None,
            month_limit=budget.limit("month") if budget else None,
            answers=answers,
        )
