"""Spend per caller: budgets from the tenants file, reservations and settlement through the
execute guard, the router's caller-budget constraint, and the periods' boundaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mecroute.adapters.spend_ledger import MemorySpendLedger
from mecroute.agents import router
from mecroute.agents.spend import Spend
from mecroute.domain.errors import BudgetExceeded
from mecroute.domain.request import CriterionWeights
from mecroute.domain.spend import (
    Budget,
    InvalidTenantsFile,
    Tenants,
    load_tenants,
    period_key,
    resets_at,
)

from .builders import CLOUD_MODEL, EDGE_SMALL, NOW, candidate, context, node_status, snapshot

# 2023-11-14T22:13:20Z
TENANTS = Tenants(budgets={"alice": Budget(daily_usd=0.01, monthly_usd=0.5)})


def paid(cost: float, model_id: str = CLOUD_MODEL, tier: str = "cloud"):  # type: ignore[no-untyped-def]
    return candidate(tier, model_id, placement="cold").model_copy(
        update={"predicted_cost_usd": cost}
    )


def alice(request_id: str = "req-1"):  # type: ignore[no-untyped-def]
    return context({"user_id": "alice"}, request_id=request_id)


def test_periods_are_utc_days_and_months_and_say_when_they_reset() -> None:
    assert period_key("alice", "day", NOW) == "alice#day#2023-11-14"
    assert period_key("alice", "month", NOW) == "alice#month#2023-11"
    assert datetime.fromtimestamp(resets_at("day", NOW), UTC).isoformat() == (
        "2023-11-15T00:00:00+00:00"
    )
    assert datetime.fromtimestamp(resets_at("month", NOW), UTC).isoformat() == (
        "2023-12-01T00:00:00+00:00"
    )


def test_a_reservation_is_settled_to_the_actual_cost_once() -> None:
    ledger = MemorySpendLedger()
    spend = Spend(ledger, TENANTS, lambda: NOW)
    target = paid(0.004)

    hold = spend.reserve(alice(), target)
    assert spend.usage("alice").day.spent_usd == 0.004
    spend.settle(alice(), target, hold, 0.003)
    spend.settle(alice(), target, hold, 0.003)  # a retried settlement counts nothing more

    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == (0.003, 1)
    assert (usage.month.spent_usd, usage.month.answers) == (0.003, 1)
    assert usage.day.remaining_usd == pytest.approx(0.007)
    assert usage.day.resets_at == "2023-11-15T00:00:00+00:00"


def test_a_failed_attempt_gives_its_reservation_back() -> None:
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: NOW)
    hold = spend.reserve(alice(), paid(0.004))
    spend.release(hold)
    spend.release(hold)
    assert (spend.usage("alice").day.spent_usd, spend.usage("alice").day.answers) == (0.0, 0)


def test_a_reservation_past_the_budget_is_refused_naming_the_budget_and_its_reset() -> None:
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: NOW)
    spend.settle(alice("req-0"), paid(0.008), spend.reserve(alice("req-0"), paid(0.008)), 0.008)

    with pytest.raises(BudgetExceeded) as refused:
        spend.reserve(alice(), paid(0.004))

    message = str(refused.value)
    assert "caller alice's daily budget $0.01" in message
    assert "$0.008000 spent, $0.002000 left" in message
    assert "resets 2023-11-15T00:00:00+00:00" in message
    assert spend.usage("alice").day.spent_usd == 0.008  # nothing reserved


def test_callers_without_a_budget_are_never_refused_and_their_answers_count_once() -> None:
    ledger = MemorySpendLedger()
    spend = Spend(ledger, TENANTS, lambda: NOW)
    bob = context({"user_id": "bob"})
    hold = spend.reserve(bob, paid(5.0))  # no limit: a hold only to count the answer once
    assert spend.reserve(bob, paid(5.0)) == hold  # the Lambda retried: the same hold
    assert spend.caller_budget("bob") is None
    spend.settle(bob, paid(5.0), hold, 5.0)
    spend.settle(bob, paid(5.0), hold, 5.0)  # the same attempt again: once
    usage = spend.usage("bob")
    assert (usage.month.spent_usd, usage.month.answers, usage.month.remaining_usd) == (5.0, 1, None)


def test_an_answer_predicted_free_that_cost_something_is_counted() -> None:
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: NOW)
    bob = context({"user_id": "bob"})
    assert spend.reserve(bob, paid(0.0)) is None
    spend.settle(bob, paid(0.0), None, 0.25)
    usage = spend.usage("bob")
    assert (usage.day.spent_usd, usage.day.answers) == (0.25, 1)


def test_a_new_day_starts_the_days_spend_again_and_keeps_the_months() -> None:
    clock = [NOW]
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: clock[0])
    spend.settle(alice("req-0"), paid(0.008), spend.reserve(alice("req-0"), paid(0.008)), 0.008)
    clock[0] = resets_at("day", NOW) + 60  # the next day, same month
    hold = spend.reserve(alice("req-1"), paid(0.008))  # would not fit yesterday's room
    spend.settle(alice("req-1"), paid(0.008), hold, 0.008)
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == (0.008, 1)
    assert (usage.month.spent_usd, usage.month.answers) == (0.016, 2)


def test_a_hold_opened_before_midnight_settles_against_its_month_only() -> None:
    clock = [resets_at("day", NOW) - 1]
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: clock[0])
    late = spend.reserve(alice("req-late"), paid(0.004))
    clock[0] += 2  # midnight passes; another request opens the new day
    spend.settle(alice("req-new"), paid(0.001), spend.reserve(alice("req-new"), paid(0.001)), 0.001)
    spend.settle(alice("req-late"), paid(0.004), late, 0.003)
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == (0.001, 1)
    assert (usage.month.spent_usd, usage.month.answers) == pytest.approx((0.004, 2))


def test_the_router_routes_to_a_cheaper_tier_when_the_budget_allows_no_more() -> None:
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: NOW)
    spend.settle(
        alice("req-0"), paid(0.00999), spend.reserve(alice("req-0"), paid(0.00999)), 0.00999
    )
    resources = snapshot([node_status("mec-a", hot_models=[EDGE_SMALL])]).model_copy(
        update={"caller_budget": spend.caller_budget("alice")}
    )

    decision = router.route(alice(), resources, CriterionWeights())

    assert decision.primary is not None
    assert all(c.predicted_cost_usd <= 0.00001 for c in decision.candidates)
    removed = [r for r in decision.rejected if r.constraint == "caller_budget"]
    assert removed
    assert all("caller alice's daily budget" in r.detail for r in removed)


def test_the_router_refuses_with_budget_exceeded_when_no_candidate_fits() -> None:
    spend = Spend(MemorySpendLedger(), TENANTS, lambda: NOW)
    spend.settle(alice("req-0"), paid(0.01), spend.reserve(alice("req-0"), paid(0.01)), 0.01)
    resources = snapshot([], cloud_available=True).model_copy(
        update={"caller_budget": spend.caller_budget("alice")}
    )
    ctx = context({"user_id": "alice", "device": {"memory_free_mb": 1}}, request_id="req-2")

    decision = router.route(ctx, resources, CriterionWeights())

    assert decision.primary is None
    assert decision.error == "BudgetExceeded"
    assert "caller alice's daily budget $0.01" in decision.reason
    assert "resets 2023-11-15T00:00:00+00:00" in decision.reason


def test_the_tenants_file_is_validated_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"budgets": {"alice": {"daily_usd": -1}}}))
    with pytest.raises(InvalidTenantsFile, match=r"budgets\.alice\.daily_usd"):
        load_tenants(path)
    path.write_text(json.dumps({"budgets": {"alice": {"daily_usd": 2}}}))
    assert load_tenants(path).budget_for("alice").daily_usd == 2
    assert load_tenants(path).budget_for("zed").unlimited
