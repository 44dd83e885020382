"""Where circuit breakers live: a DynamoDB table for the Lambdas (conditional writes, so
concurrent functions agree on one state), memory for one edge gateway process."""

from __future__ import annotations

import threading

from mecroute.adapters.aws import table
from mecroute.adapters.dynamodb import _listed, from_item, put_if, to_item
from mecroute.domain.breaker import Breaker


class DynamoBreakerStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, breaker_key: str) -> Breaker | None:
        item = table(self.table_name).get_item(Key={"breaker_key": breaker_key}).get("Item")
        return Breaker.model_validate(from_item(item)) if item else None

    def list_breakers(self) -> list[Breaker]:
        return _listed(self.table_name, Breaker, lambda breaker: breaker.breaker_key)

    def put_if_unchanged(self, breaker: Breaker, expected_revision: int | None) -> bool:
        item = to_item(breaker.model_dump())
        return put_if(self.table_name, "breaker_key", item, "revision", expected_revision)


class MemoryBreakerStore:
    """The same conditional semantics in one process (the edge gateway's own breakers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Breaker] = {}

    def get(self, breaker_key: str) -> Breaker | None:
        with self._lock:
            return self._items.get(breaker_key)

    def list_breakers(self) -> list[Breaker]:
        with self._lock:
            return [self._items[key] for key in sorted(self._items)]

    def put_if_unchanged(self, breaker: Breaker, expected_revision: int | None) -> bool:
        with self._lock:
            current = self._items.get(breaker.breaker_key)
            found = current.revision if current else None
            if found != expected_revision:
                return False
            self._items[breaker.breaker_key] = breaker
            return True
