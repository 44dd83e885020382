"""Spend in DynamoDB (moto): concurrent requests racing the same budget never spend past it,
a retried open or close of a hold is counted once, and a paid answer costs two single-item
writes (no transaction)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend
from tests.unit.builders import CLOUD_MODEL, NOW, candidate, context

from mecroute.adapters.aws import table
from mecroute.adapters.spend_ledger import DynamoSpendLedger
from mecroute.agents.spend import Spend
from mecroute.domain.errors import BudgetExceeded
from mecroute.domain.messages import Candidate
from mecroute.domain.spend import Budget, Tenants, resets_at
from mecroute.gateway.settlements import DeferredSettlements
from mecroute.local.moto_patches import keep_sums_readable
from mecroute.local.names import Names

from .conftest import one_table

TABLE = Names().usage_table
COST = 0.003
# Room for exactly three answers at COST a day, and five a month.
TENANTS = Tenants(budgets={"alice": Budget(daily_usd=0.01, monthly_usd=0.016)})


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoSpendLedger]:
    # DynamoDB applies one item's conditional update atomically; moto checks the condition
    # and then writes, so a concurrent writer could slip in between. One lock gives moto the
    # atomicity DynamoDB has: the racers still interleave every read, condition and write.
    atomic = threading.Lock()
    update = DynamoDBBackend.update_item

    def one_at_a_time(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with atomic:
            return update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", one_at_a_time)
    with one_table(monkeypatch, TABLE, "usage_key"):
        yield DynamoSpendLedger(TABLE)


def priced(cost: float = COST) -> Candidate:
    return candidate("cloud", CLOUD_MODEL, placement="cold").model_copy(
        update={"predicted_cost_usd": cost}
    )


def race(spend: Spend, racers: int, first: int = 0) -> list[bool]:
    """`racers` requests of alice's at once, each reserving COST and settling it."""
    start = Barrier(racers)

    def request(index: int) -> bool:
        ctx = context({"user_id": "alice"}, request_id=f"req-{index}")
        start.wait()
        try:
            hold = spend.reserve(ctx, priced())
        except BudgetExceeded:
            return False
        spend.settle(ctx, priced(), hold, COST)
        return True

    with ThreadPoolExecutor(max_workers=racers) as pool:
        return list(pool.map(request, range(first, first + racers)))


def test_concurrent_requests_racing_one_budget_never_spend_past_it(
    ledger: DynamoSpendLedger,
) -> None:
    spend = Spend(ledger, TENANTS, lambda: NOW)
    assert race(spend, 12).count(True) == 3  # the day's $0.01 holds three
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((3 * COST, 3))
    assert usage.day.spent_usd <= 0.01


def test_the_month_limit_holds_across_days_under_concurrency(ledger: DynamoSpendLedger) -> None:
    clock = [NOW]
    spend = Spend(ledger, TENANTS, lambda: clock[0])
    assert race(spend, 8).count(True) == 3
    clock[0] = resets_at("day", NOW) + 60  # the next day: the day's room is back
    assert race(spend, 8, first=100).count(True) == 2  # the month's $0.016 holds five
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((2 * COST, 2))
    assert (usage.month.spent_usd, usage.month.answers) == pytest.approx((5 * COST, 5))


def test_a_retried_reservation_and_settlement_count_once(ledger: DynamoSpendLedger) -> None:
    spend = Spend(ledger, TENANTS, lambda: NOW)
    ctx = context({"user_id": "alice"})
    hold = spend.reserve(ctx, priced())
    assert spend.reserve(ctx, priced()) == hold  # the Lambda retried: the same hold
    assert spend.usage("alice").day.spent_usd == pytest.approx(COST)
    spend.settle(ctx, priced(), hold, 0.001)
    spend.settle(ctx, priced(), hold, 0.001)
    spend.release(hold)  # a late release of a settled hold takes nothing back
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((0.001, 1))
    assert (usage.month.spent_usd, usage.month.answers) == pytest.approx((0.001, 1))


def test_a_hold_opened_before_midnight_settles_against_its_month_only(
    ledger: DynamoSpendLedger,
) -> None:
    clock = [resets_at("day", NOW) - 1]
    spend = Spend(ledger, TENANTS, lambda: clock[0])
    late = context({"user_id": "alice"}, request_id="req-late")
    hold = spend.reserve(late, priced())
    clock[0] += 2
    fresh = context({"user_id": "alice"}, request_id="req-new")
    spend.settle(fresh, priced(0.001), spend.reserve(fresh, priced(0.001)), 0.001)
    spend.settle(late, priced(), hold, 0.002)
    spend.settle(late, priced(), hold, 0.002)
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((0.001, 1))
    assert (usage.month.spent_usd, usage.month.answers) == pytest.approx((0.003, 2))
    item = table(TABLE).get_item(Key={"usage_key": "alice#month#2023-11"})["Item"]
    assert not [name for name in item if name.startswith("hold_")]  # both holds closed


def test_a_paid_answer_is_two_single_item_writes(ledger: DynamoSpendLedger) -> None:
    calls: list[str] = []
    client = table(TABLE).meta.client
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    spend = Spend(ledger, Tenants(), lambda: NOW)
    ctx = context({"user_id": "bob"})
    spend.settle(ctx, priced(), spend.reserve(ctx, priced()), COST)
    assert calls == ["UpdateItem", "UpdateItem"]


def test_a_cost_too_small_for_plain_notation_is_still_counted(ledger: DynamoSpendLedger) -> None:
    # Given a caller without a budget and an answer costing a tenth of a micro-dollar (Python
    # writes it 1e-07, a form moto's DynamoDB refused)
    spend = Spend(ledger, Tenants(), lambda: NOW)
    ctx = context({"user_id": "bob"})
    # When its cost is settled
    spend.settle(ctx, priced(1e-7), spend.reserve(ctx, priced(1e-7)), 1e-7)
    # Then the day and the month count it
    usage = spend.usage("bob")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((1e-7, 1))
    assert (usage.month.spent_usd, usage.month.answers) == pytest.approx((1e-7, 1))


def test_a_shipped_batch_counts_each_answer_once_even_sent_again(
    ledger: DynamoSpendLedger,
) -> None:
    # Given: the edge gateway's shipper with 150 answers' settlements for two callers, alice
    # against a budget (her hold opened on the request path), bob without one (counted whole)
    deferred = DeferredSettlements(ledger)
    spend = Spend(deferred, TENANTS, lambda: NOW)
    alice = context({"user_id": "alice"}, request_id="held")
    spend.settle(alice, priced(), spend.reserve(alice, priced()), 0.001)
    for index in range(149):
        bob = context({"user_id": "bob"}, request_id=f"req-{index}")
        spend.settle(bob, priced(1e-4), spend.reserve(bob, priced(1e-4)), 1e-4)
    entries = [settlement.entry for settlement in deferred.taken()]
    writes: list[str] = []
    table(TABLE).meta.client.meta.events.register(
        "before-call.dynamodb.UpdateItem", lambda **_: writes.append("UpdateItem")
    )
    # When: it settles them, then part of the batch again (it died before acknowledging it)
    ledger.settle_shipped(entries)
    shipped_writes = len(writes)
    ledger.settle_shipped(entries[:75])
    # Then: each answer is counted once, in both periods, in a handful of writes
    assert shipped_writes == 1 + 4  # alice's close; bob's 149 in updates of 40
    bob_usage, alice_usage = spend.usage("bob"), spend.usage("alice")
    assert (bob_usage.day.spent_usd, bob_usage.day.answers) == pytest.approx((149e-4, 149))
    assert (bob_usage.month.spent_usd, bob_usage.month.answers) == pytest.approx((149e-4, 149))
    assert (alice_usage.day.spent_usd, alice_usage.day.answers) == pytest.approx((0.001, 1))
    # And once acknowledged, the marks go and nothing is counted again
    ledger.forget(entries)
    item = table(TABLE).get_item(Key={"usage_key": "bob#month#2023-11"})["Item"]
    assert not [name for name in item if name.startswith("hold_")]
    assert spend.usage("bob").month.answers == 149


def test_a_released_reservation_leaves_the_item_usable(ledger: DynamoSpendLedger) -> None:
    # moto sums to '0E-12', which it then failed to read back (the offline runtime's patch)
    keep_sums_readable()
    spend = Spend(ledger, TENANTS, lambda: NOW)
    first = context({"user_id": "alice"}, request_id="failed")
    spend.release(spend.reserve(first, priced()))
    second = context({"user_id": "alice"}, request_id="answered")
    spend.settle(second, priced(), spend.reserve(second, priced()), COST)
    usage = spend.usage("alice")
    assert (usage.day.spent_usd, usage.day.answers) == pytest.approx((COST, 1))
