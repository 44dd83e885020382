"""Callers' spend at the edge, with the region's write off the request path.

Reserving against a budget stays a call to the region's usage table before the tier runs: it is
the guard. Settling (counting an answer's cost, or giving a failed attempt's hold back) only adds
to the caller's day and month, so the gateway keeps it with the request's record in the on-disk
queue and the shipper writes it: a crash loses none, and a shipment sent twice counts it once
(the ledger's marker per hold key). Until then a budget looks, if anything, more spent.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict, Field

from mecroute.adapters.ports import Charge, SpendLedger
from mecroute.adapters.spend_ledger import SettleCall
from mecroute.domain.messages import UnstoredRecord


class Settlement(BaseModel):
    """One `SpendLedger.settle` call, kept for the shipper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_key: str
    charges: list[Charge]
    expires_at: float
    reserved: bool

    def apply(self, ledger: SpendLedger) -> None:
        ledger.settle(*self.call)

    @property
    def call(self) -> SettleCall:
        return self.hold_key, self.charges, self.expires_at, self.reserved


class EdgeShipment(UnstoredRecord):
    """What the gateway queues for the region per request: the record, its events and the
    spend settlements its attempts made."""

    settlements: list[Settlement] = Field(default_factory=list)


class DeferredSettlements:
    """A SpendLedger whose reads and reservations go to `ledger` (the region's) and whose
    settlements are kept, per pipeline thread, until `taken` for the request's shipment."""

    def __init__(self, ledger: SpendLedger) -> None:
        self.ledger = ledger
        self._local = threading.local()

    def read(self, key: str) -> tuple[float, int]:
        return self.ledger.read(key)

    def reserve(self, hold_key: str, charges: list[Charge], expires_at: float) -> str | None:
        return self.ledger.reserve(hold_key, charges, expires_at)

    def settle(
        self, hold_key: str, charges: list[Charge], expires_at: float, reserved: bool
    ) -> bool:
        self._pending().append(Settlement(hold_key=hold_key, charges=charges,
                                          expires_at=expires_at, reserved=reserved))  # fmt: skip
        return True

    def taken(self) -> list[Settlement]:
        """This thread's settlements since the last call (its request's), and forgets them."""
        pending = self._pending()
        self._local.pending = []
        return pending

    def _pending(self) -> list[Settlement]:
        pending: list[Settlement] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        return pending
