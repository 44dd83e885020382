"""Breakers in DynamoDB (moto): concurrent Lambdas agree on one state through conditional
writes, and exactly one of them gets a half-open breaker's probe."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from tests.unit.builders import EDGE_SMALL, NOW, candidate

from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.agents.breakers import Breakers
from mecroute.domain.breaker import BreakerPolicy
from mecroute.domain.errors import CircuitOpen, TierUnavailable
from mecroute.local.names import Names

from .conftest import one_table

TABLE = Names().breakers_table
TARGET = candidate("mec", EDGE_SMALL, node_id="mec-a", placement="hot")
POLICY = BreakerPolicy(consecutive_failures=3, cooldown_s=30.0)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoBreakerStore]:
    with one_table(monkeypatch, TABLE, "breaker_key"):
        yield DynamoBreakerStore(TABLE)


def test_concurrent_failures_are_all_counted_and_open_the_breaker(
    store: DynamoBreakerStore,
) -> None:
    breakers = Breakers(store, POLICY, lambda: NOW)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: breakers.failed(TARGET, TierUnavailable("refused")), range(3)))
    (seen,) = breakers.views()
    assert (seen.state, seen.consecutive_failures) == ("open", 3)


def test_exactly_one_of_many_concurrent_callers_gets_the_half_open_probe(
    store: DynamoBreakerStore,
) -> None:
    clock = [NOW]
    breakers = Breakers(store, POLICY, lambda: clock[0])
    for _ in range(3):
        breakers.failed(TARGET, TierUnavailable("refused"))
    clock[0] += POLICY.cooldown_s
    start = Barrier(8)

    def try_probe(_: int) -> bool:
        start.wait()
        try:
            breakers.admit(TARGET)
        except CircuitOpen:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = list(pool.map(try_probe, range(8)))
    assert admitted.count(True) == 1
    (seen,) = breakers.views()
    assert (seen.state, seen.admits) == ("half_open", False)
    breakers.succeeded(TARGET)
    assert breakers.views()[0].state == "closed"
