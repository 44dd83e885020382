"""Where callers' spend is kept: a DynamoDB table changed only by transactions (ADD under a
condition, with a marker item per attempt so a retried call is never counted twice), and the
same semantics in memory for tests and the edge gateway's fallback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from mecroute.adapters.aws import table
from mecroute.adapters.ports import Charge

UNSETTLED_HOLD = "attribute_exists(usage_key) AND attribute_not_exists(settled)"
TRANSACTION_ITEMS = 100  # DynamoDB's most in one TransactWriteItems
# One `settle` call's arguments: hold key, charges, when its marker expires, whether reserved.
SettleCall = tuple[str, list[Charge], float, bool]


def _money(amount: float) -> Decimal:
    """Dollars to ten decimal places. A tiny amount is sent in exponent form, which DynamoDB
    accepts, but moto's DynamoDB (the offline runtime) reads a number without a decimal point
    as an integer and cancels the transaction on '1E-7' or '0E-10'. Two spare digits keep a
    point in every form ('1.00E-7'), and zero is sent as '0'."""
    rounded = round(amount, 10)
    return Decimal(f"{rounded:.12f}") if rounded else Decimal(0)


class DynamoSpendLedger:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def read(self, key: str) -> tuple[float, int]:
        item = table(self.table_name).get_item(Key={"usage_key": key}, ConsistentRead=True)
        found = item.get("Item") or {}
        return float(found.get("spent_usd", 0)), int(found.get("answers", 0))

    def reserve(self, hold_key: str, charges: list[Charge], expires_at: float) -> str | None:
        over = next((c.key for c in charges if c.limit is not None and c.amount > c.limit), None)
        if over:
            return over
        hold = {
            "Put": {
                "TableName": self.table_name,
                "Item": {"usage_key": hold_key, "reserved_usd": _money(charges[0].amount),
                         "expires_at": int(expires_at)},
                "ConditionExpression": "attribute_not_exists(usage_key)",
            }
        }  # fmt: skip
        failed = self._transact([hold, *(self._add(c) for c in charges)])
        if failed is None or failed == 0:
            return None  # reserved now, or by an earlier try of the same call
        return charges[failed - 1].key

    def settle(
        self, hold_key: str, charges: list[Charge], expires_at: float, reserved: bool
    ) -> bool:
        adds = [self._add(c) for c in charges]
        return self._transact([self._marker(hold_key, expires_at, reserved), *adds]) is None

    def settle_many(self, calls: list[SettleCall]) -> None:
        """`settle` for each call, in as few transactions as DynamoDB allows (a marker each,
        each usage item added to once, by the calls' sum): the edge gateway's shipper settles
        a batch of answers so. If one was settled before (a shipment sent again), the whole
        transaction is refused and each call is settled alone instead: none counts twice."""
        for chunk in _chunks(calls):
            if len(chunk) == 1 or not self._settle_together(chunk):
                for hold_key, charges, expires_at, reserved in chunk:
                    self.settle(hold_key, charges, expires_at, reserved)

    def _settle_together(self, calls: list[SettleCall]) -> bool:
        summed: dict[str, Charge] = {}
        for charge in (c for _, charges, _, _ in calls for c in charges):
            was = summed.get(charge.key)
            summed[charge.key] = charge if was is None else Charge(
                charge.key, was.amount + charge.amount, max(was.kept_until, charge.kept_until),
                None, was.answers + charge.answers,
            )  # fmt: skip
        markers = [
            self._marker(key, expires_at, reserved) for key, _, expires_at, reserved in calls
        ]
        return self._transact([*markers, *(self._add(c) for c in summed.values())]) is None

    def _marker(self, hold_key: str, expires_at: float, reserved: bool) -> dict[str, Any]:
        """The settlement's once-only mark: on its hold (reserved), or an item of its own."""
        marker: dict[str, Any] = {"TableName": self.table_name}
        if reserved:
            marker |= {
                "Key": {"usage_key": hold_key},
                "UpdateExpression": "SET settled = :yes",
                "ConditionExpression": UNSETTLED_HOLD,
                "ExpressionAttributeValues": {":yes": True},
            }
            return {"Update": marker}
        marker |= {
            "Item": {"usage_key": hold_key, "settled": True, "expires_at": int(expires_at)},
            "ConditionExpression": "attribute_not_exists(usage_key)",
        }
        return {"Put": marker}

    def _add(self, charge: Charge) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"usage_key": charge.key},
            "UpdateExpression": "SET expires_at = :expires ADD spent_usd :amount, answers :answers",
            "ExpressionAttributeValues": {":amount": _money(charge.amount),
                                          ":answers": charge.answers,
                                          ":expires": int(charge.kept_until)},
        }  # fmt: skip
        if charge.limit is not None:
            update["ConditionExpression"] = "attribute_not_exists(spent_usd) OR spent_usd <= :room"
            update["ExpressionAttributeValues"][":room"] = _money(charge.limit - charge.amount)
        return {"Update": update}

    def _transact(self, items: list[dict[str, Any]]) -> int | None:
        """Run the transaction; None when it went through, else the index of the first item
        whose condition refused it."""
        try:
            table(self.table_name).meta.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return index
            raise
        return None


def _chunks(calls: list[SettleCall]) -> Iterator[list[SettleCall]]:
    """Calls grouped so each group's markers and usage items fit one transaction; a call with
    a limited charge (a condition on its own amount) alone."""
    chunk: list[SettleCall] = []
    keys: set[str] = set()
    for call in calls:
        if any(c.limit is not None for c in call[1]):
            yield [call]
            continue
        with_call = keys | {c.key for c in call[1]}
        if chunk and len(chunk) + 1 + len(with_call) > TRANSACTION_ITEMS:
            yield chunk
            chunk, with_call = [], {c.key for c in call[1]}
        chunk.append(call)
        keys = with_call
    if chunk:
        yield chunk


class MemorySpendLedger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}

    def read(self, key: str) -> tuple[float, int]:
        with self._lock:
            item = self.items.get(key, {})
            return float(item.get("spent_usd", 0.0)), int(item.get("answers", 0))

    def reserve(self, hold_key: str, charges: list[Charge], expires_at: float) -> str | None:
        with self._lock:
            if hold_key in self.items:
                return None
            for charge in charges:
                spent = float(self.items.get(charge.key, {}).get("spent_usd", 0.0))
                if charge.limit is not None and spent + charge.amount > charge.limit:
                    return charge.key
            self.items[hold_key] = {"reserved_usd": charges[0].amount}
            self._apply(charges)
            return None

    def settle(
        self, hold_key: str, charges: list[Charge], expires_at: float, reserved: bool
    ) -> bool:
        with self._lock:
            hold = self.items.get(hold_key)
            if (hold is None) == reserved or (hold is not None and hold.get("settled")):
                return False
            self.items[hold_key] = {**(hold or {}), "settled": True}
            self._apply(charges)
            return True

    def _apply(self, charges: list[Charge]) -> None:
        for charge in charges:
            item = self.items.setdefault(charge.key, {"spent_usd": 0.0, "answers": 0})
            item["spent_usd"] += charge.amount
            item["answers"] += charge.answers
