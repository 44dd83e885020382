"""Callers' spend at the edge, with the region's write off the request path.

Reserving against a budget stays a call to the region's usage table before the tier runs: it is
the guard. Settling (counting an answer's cost, or giving a failed attempt's hold back) only adds
to the caller's day and month, so the gateway keeps it with the request's record in the on-disk
queue and the shipper writes it: a crash loses none, and a shipment sent twice counts it once
(the hold it closes is closed once; a caller without a budget, whose hold guards nothing and is
not written on the request path, is counted whole under a mark the shipper removes once the
shipment is acknowledged). Until then a budget looks, if anything, more spent.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict, Field

from mecroute.adapters.ports import Charge, SpendLedger, Spent
from mecroute.adapters.spend_ledger import Shipped
from mecroute.domain.messages import UnstoredRecord
from mecroute.domain.spend import Period


class Settlement(BaseModel):
    """One attempt's count, kept for the shipper: it closes the hold opened on the request path
    (`opened`), or counts the attempt whole (a caller without a budget: no hold was written)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold: str
    charge: Charge
    opened: bool = True

    @property
    def entry(self) -> Shipped:
        return self.hold, self.charge, self.opened

    def apply(self, ledger: SpendLedger) -> None:
        """Written at once, not shipped (the queue was full)."""
        if not self.opened:
            ledger.open(self.hold, self.charge)
        ledger.close(self.hold, self.charge if self.opened else _nothing(self.charge))


def _nothing(charge: Charge) -> Charge:
    return Charge(charge.account, charge.day, 0.0, charge.kept_until)


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

    def read(self, account: str, day: str) -> Spent:
        return self.ledger.read(account, day)

    def open(self, hold: str, charge: Charge) -> Period | None:
        """A hold under a limit is opened in the region now (the guard); one without a limit
        guards nothing: kept, to be counted whole with its close."""
        if charge.day_limit is None and charge.month_limit is None:
            self._opens()[hold] = charge
            return None
        return self.ledger.open(hold, charge)

    def close(self, hold: str, charge: Charge) -> bool:
        opened = self._opens().pop(hold, None)
        if opened is None:
            self._pending().append(Settlement(hold=hold, charge=charge))
            return True
        whole = Charge(
            charge.account,
            charge.day,
            opened.amount + charge.amount,
            max(opened.kept_until, charge.kept_until),
            answers=opened.answers + charge.answers,
        )
        if whole.amount or whole.answers:  # a released attempt nets to nothing
            self._pending().append(Settlement(hold=hold, charge=whole, opened=False))
        return True

    def taken(self) -> list[Settlement]:
        """This thread's settlements since the last call (its request's), and forgets them."""
        pending = self._pending()
        self._local.pending, self._local.opens = [], {}
        return pending

    def _opens(self) -> dict[str, Charge]:
        opens: dict[str, Charge] | None = getattr(self._local, "opens", None)
        if opens is None:
            opens = self._local.opens = {}
        return opens

    def _pending(self) -> list[Settlement]:
        pending: list[Settlement] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        return pending
