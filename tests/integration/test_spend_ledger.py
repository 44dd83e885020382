"""Spend in DynamoDB (moto): concurrent requests racing the same budget never spend past it,
and a retried reservation or settlement is counted once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend
from tests.unit.builders import CLOUD_MODEL, NOW, candidate, context

from mecroute.adapters.spend_ledger import DynamoSpendLedger
from mecroute.agents.spend import Spend
from mecroute.domain.errors import BudgetExceeded
from mecroute.domain.spend import Budget, Tenants
from mecroute.gateway.settlements import DeferredSettlements
from mecroute.local.names import Names

from .conftest import one_table

TABLE = Names().usage_table
COST = 0.003
# Room for exactly three answers at COST a day.
TENANTS = Tenants(budgets={"alice": Budget(daily_usd=0.01)})


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoSpendLedger]:
    # DynamoDB isolates concurrent transactions; moto applies one item by item and, when it
    # cancels one, restores a copy of the whole table taken before it, undoing whatever a
    # concurrent writer did meanwhile. One lock gives moto the isolation DynamoDB has: the
    # racers still interleave every read, condition and write around their transactions.
    isolated = threading.Lock()
    transact = DynamoDBBackend.transact_write_items

    def one_at_a_time(self: DynamoDBBackend, items: list[dict[str, Any]]) -> None:
        with isolated:
            transact(self, items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", one_at_a_time)
    with one_table(monkeypatch, TABLE, "usage_key"):
        yield DynamoSpendLedger(TABLE)


def test_concurrent_requests_racing_one_budget_never_spend_past_it(
    ledger: DynamoSpendLedger,
) -> None:
    spend = Spend(ledger, TENANTS, lambda: NOW)
    target = candidate("cloud", CLOUD_MODEL, placement="cold").model_copy(
        update={"predicted_cost_usd": COST}
    )
    racers = 12
    start = Barrier(racers)

    def request(index: int) -> bool:
        ctx = context({"user_id": "alice"}, request_id=f"req-{index}")
        start.wait()
        try:
            hold = spend.reserve(ctx, target)
        except BudgetExceeded:
            return False
        spend.settle(ctx, target, hold, COST)
        return True

    with ThreadPoolExecutor(max_workers=racers) as pool:
        served = list(pool.map(request, range(racers)))

    assert served.count(True) == 3
    usage = spend.usage("alice")
    assert usage.day.spent_usd == pytest.approx(3 * COST)
    assert usage.day.answers == 3
    assert usage.day.spent_usd <= 0.01


def test_a_retried_reservation_and_settlement_count_once(ledger: DynamoSpendLedger) -> None:
    spend = Spend(ledger, TENANTS, lambda: NOW)
    target = candidate("cloud", CLOUD_MODEL, placement="cold").model_copy(
        update={"predicted_cost_usd": COST}
    )
    ctx = context({"user_id": "alice"})
    hold = spend.reserve(ctx, target)
    assert spend.reserve(ctx, target) is not None  # the Lambda retried: the same hold
    assert spend.usage("alice").day.spent_usd == pytest.approx(COST)
    spend.settle(ctx, target, hold, 0.001)
    spend.settle(ctx, target, hold, 0.001)
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == (pytest.approx(0.001), 1)
    assert (usage.month.spent_usd, usage.month.answers) == (pytest.approx(0.001), 1)


def test_a_cost_too_small_for_plain_notation_is_still_counted(ledger: DynamoSpendLedger) -> None:
    # Given a caller without a budget and an answer costing a tenth of a micro-dollar (Python
    # writes it 1e-07, a form moto's DynamoDB refused: the whole transaction was cancelled)
    spend = Spend(ledger, Tenants(), lambda: NOW)
    target = candidate("cloud", CLOUD_MODEL, placement="cold")
    ctx = context({"user_id": "bob"})
    # When its cost is settled
    spend.settle(ctx, target, None, 1e-7)
    # Then the day and the month count it
    usage = spend.usage("bob")
    assert (usage.day.spent_usd, usage.day.answers) == (pytest.approx(1e-7), 1)
    assert (usage.month.spent_usd, usage.month.answers) == (pytest.approx(1e-7), 1)


def test_a_batch_of_settlements_counts_each_once_even_sent_again(ledger: DynamoSpendLedger) -> None:
    # Given: the edge gateway's shipper with 150 answers' settlements (two transactions' worth)
    # for two callers, one of them against a reservation
    deferred = DeferredSettlements(ledger)
    spend = Spend(deferred, TENANTS, lambda: NOW)
    target = candidate("cloud", CLOUD_MODEL, placement="cold").model_copy(
        update={"predicted_cost_usd": COST}
    )
    alice = context({"user_id": "alice"}, request_id="held")
    hold = spend.reserve(alice, target)
    spend.settle(alice, target, hold, 0.001)
    for index in range(149):
        spend.settle(context({"user_id": "bob"}, request_id=f"req-{index}"), target, None, 1e-4)
    calls = [s.call for s in deferred.taken()]
    # When: it settles them, then the same batch again (it died before acknowledging it)
    ledger.settle_many(calls)
    ledger.settle_many(calls[:75])
    # Then: each answer is counted once, in both periods
    bob, alice_usage = spend.usage("bob"), spend.usage("alice")
    assert (bob.day.spent_usd, bob.day.answers) == (pytest.approx(149 * 1e-4), 149)
    assert (bob.month.spent_usd, bob.month.answers) == (pytest.approx(149 * 1e-4), 149)
    assert (alice_usage.day.spent_usd, alice_usage.day.answers) == (pytest.approx(0.001), 1)
