"""Where callers' spend is kept: one DynamoDB item per caller and month, holding the month's
totals, the latest day's totals and the holds of attempts in flight, each change a single
conditional UpdateItem (one write unit while the item is under 1 KB: about thirty attempts in
flight); and the same semantics in memory for tests and the
edge gateway's fallback.

Why one item is enough: DynamoDB applies a conditional update to one item atomically, so the
budget check and the addition cannot be split by a concurrent request, and the attempt's
hold, opened and closed in the same writes as the amounts it moves, makes each of them happen
once however often it is retried (see agents/spend.py). The day's totals belong to the day in
`day_label`: the first write of a new day starts them again, and a hold opened on an earlier
day closes against the month only.
"""

from __future__ import annotations

import hashlib
import threading
from decimal import Decimal
from typing import Any, Literal, cast

from botocore.exceptions import ClientError

from mecroute.adapters.aws import table
from mecroute.adapters.ports import Charge, SpendLedger, Spent
from mecroute.domain.errors import StoreUnavailable
from mecroute.domain.spend import Period

DayMode = Literal["same", "new", "past"]

# A write whose condition failed is read back: a limit passed is the answer; a new day (or a
# concurrent writer moving the day on) is written again, this many writes in all.
WRITE_ATTEMPTS = 3
# The edge gateway's shipper writes a batch's settlements for one caller's day in one update, at
# most this many holds in it (an update expression holds at most 4 kB).
SHIPPED_PER_UPDATE = 40
# One settlement a shipper writes: the hold, its charge, and whether the hold was opened on the
# request path (True: this closes it) or never written (False: a caller without a budget, whose
# attempt this counts whole, leaving its hold as a mark until `forget`).
Shipped = tuple[str, Charge, bool]
FITS_MONTH = "(attribute_not_exists(spent_usd) OR spent_usd <= :month_room)"
FITS_DAY = "(attribute_not_exists(day_spent_usd) OR day_spent_usd <= :day_room)"


def _money(amount: float) -> Decimal:
    """Dollars to ten decimal places. A tiny amount is sent in exponent form, which DynamoDB
    accepts, but moto's DynamoDB (the offline runtime) reads a number without a decimal point
    as an integer and refuses '1E-7' or '0E-10'. Two spare digits keep a point in every form
    ('1.00E-7'), and zero is sent as '0'."""
    rounded = round(amount, 10)
    return Decimal(f"{rounded:.12f}") if rounded else Decimal(0)


def hold_attribute(hold: str) -> str:
    """A short attribute name per hold: items stay small with several attempts in flight."""
    return "hold_" + hashlib.sha256(hold.encode()).hexdigest()[:16]


def spent(item: dict[str, Any], day: str) -> Spent:
    today = item.get("day_label") == day
    return Spent(
        day_usd=float(item.get("day_spent_usd", 0)) if today else 0.0,
        day_answers=int(item.get("day_answers", 0)) if today else 0,
        month_usd=float(item.get("spent_usd", 0)),
        month_answers=int(item.get("answers", 0)),
    )


def passes_limit(item: dict[str, Any], charge: Charge) -> Period | None:
    """The limit the charge would pass on the item as it stands (the day's first), compared
    as the write's condition compares: what is spent against the room left for the charge."""
    now = spent(item, charge.day)
    for period, used, limit in (
        ("day", now.day_usd, charge.day_limit),
        ("month", now.month_usd, charge.month_limit),
    ):
        if limit is not None and used > float(_money(limit - charge.amount)):
            return cast(Period, period)
    return None


def day_mode(item: dict[str, Any], day: str) -> DayMode:
    """How a charge for `day` meets the item: on its day, starting a new day, or for a day
    the item has moved past (the month only)."""
    label = item.get("day_label")
    if label is None or label == day:
        return "same"
    return "new" if label < day else "past"


def over_alone(charge: Charge) -> Period | None:
    """A limit the charge passes on its own, before anything is spent."""
    if charge.day_limit is not None and charge.amount > charge.day_limit:
        return "day"
    if charge.month_limit is not None and charge.amount > charge.month_limit:
        return "month"
    return None


def update(charge: Charge, hold: str, opening: bool, mode: DayMode) -> dict[str, Any]:
    """The UpdateItem that opens (adding under the limits) or closes `hold` for `charge`."""
    values: dict[str, Any] = {
        ":amount": _money(charge.amount),
        ":expires": int(charge.kept_until),
        ":day": charge.day,
    }
    sets, adds, conditions = ["expires_at = :expires"], ["spent_usd :amount"], []
    if charge.answers:
        adds.append("answers :answers")
        values[":answers"] = charge.answers
    if mode == "same":
        adds.append("day_spent_usd :amount")
        if charge.answers:
            adds.append("day_answers :answers")
    if opening:
        sets.append(f"{hold} = :amount")
        conditions.append(f"attribute_not_exists({hold})")
        if charge.month_limit is not None:
            conditions.append(FITS_MONTH)
            values[":month_room"] = _money(charge.month_limit - charge.amount)
    else:
        conditions.append(f"attribute_exists({hold})")
    if mode == "same":
        sets.append("day_label = :day")
        conditions.append("(attribute_not_exists(day_label) OR day_label = :day)")
        if opening and charge.day_limit is not None:
            conditions.append(FITS_DAY)
            values[":day_room"] = _money(charge.day_limit - charge.amount)
    elif mode == "new":
        sets += ["day_label = :day", "day_spent_usd = :amount", "day_answers = :day_answers"]
        values[":day_answers"] = charge.answers
        conditions.append("day_label < :day")
    else:
        conditions.append("day_label > :day")
    expression = f"SET {', '.join(sets)} ADD {', '.join(adds)}"
    return {
        "Key": {"usage_key": charge.account},
        "UpdateExpression": expression + ("" if opening else f" REMOVE {hold}"),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": values,
    }


def shipped_together(entries: list[Shipped]) -> dict[str, Any]:
    """One update for a caller's day: the entries' charges summed, the holds opened on the
    request path removed (each must be open), the others set as marks (none may exist)."""
    first = entries[0][1]
    amount = sum(charge.amount for _, charge, _ in entries)
    answers = sum(charge.answers for _, charge, _ in entries)
    closes = [hold_attribute(hold) for hold, _, opened in entries if opened]
    marks = [hold_attribute(hold) for hold, _, opened in entries if not opened]
    sets = ["expires_at = :expires", "day_label = :day", *(f"{mark} = :mark" for mark in marks)]
    conditions = [
        "(attribute_not_exists(day_label) OR day_label = :day)",
        *(f"attribute_exists({name})" for name in closes),
        *(f"attribute_not_exists({name})" for name in marks),
    ]
    expression = (
        f"SET {', '.join(sets)} ADD spent_usd :amount, answers :answers, "
        "day_spent_usd :amount, day_answers :answers"
    )
    return {
        "Key": {"usage_key": first.account},
        "UpdateExpression": expression + (f" REMOVE {', '.join(closes)}" if closes else ""),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": {
            ":amount": _money(amount),
            ":answers": answers,
            ":expires": int(max(charge.kept_until for _, charge, _ in entries)),
            ":day": first.day,
            **({":mark": 0} if marks else {}),
        },
    }


def settle_each(ledger: SpendLedger, entries: list[Shipped]) -> None:
    """Each shipped settlement on its own: a hold opened on the request path is closed, an
    attempt never opened is counted whole by an open."""
    for hold, charge, opened in entries:
        if opened:
            ledger.close(hold, charge)
        else:
            ledger.open(hold, charge)


class DynamoSpendLedger:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def read(self, account: str, day: str) -> Spent:
        return spent(self._item(account), day)

    def open(self, hold: str, charge: Charge) -> Period | None:
        if over := over_alone(charge):
            return over
        name = hold_attribute(hold)
        mode: DayMode = "same"
        for _ in range(WRITE_ATTEMPTS):
            if self._write(update(charge, name, True, mode)):
                return None
            current = self._item(charge.account)
            if name in current:
                return None  # opened by an earlier try of the same call
            if refused := passes_limit(current, charge):
                return refused
            mode = day_mode(current, charge.day)  # a new day, or a race with one: again
        raise StoreUnavailable(f"usage {charge.account}: contended past {WRITE_ATTEMPTS} writes")

    def close(self, hold: str, charge: Charge) -> bool:
        name = hold_attribute(hold)
        mode: DayMode = "same"
        for _ in range(WRITE_ATTEMPTS):
            if self._write(update(charge, name, False, mode)):
                return True
            current = self._item(charge.account)
            if name not in current:
                return False  # closed before (a retried call), or never opened
            # A hold closes on its own day while the item is on it; else against the month.
            mode = "same" if day_mode(current, charge.day) == "same" else "past"
        raise StoreUnavailable(f"usage {charge.account}: contended past {WRITE_ATTEMPTS} writes")

    def settle_shipped(self, entries: list[Shipped]) -> None:
        """The edge gateway shipper's batch, each entry once however often it is sent: one
        update per caller and day for the batch (closing what it closes, marking what it
        counts whole); if any of them was written before (a shipment sent again) or the day
        moved on, each entry alone, by `close` or by an `open` that counts the answer."""
        groups: dict[tuple[str, str], list[Shipped]] = {}
        for entry in entries:
            groups.setdefault((entry[1].account, entry[1].day), []).append(entry)
        for group in groups.values():
            for start in range(0, len(group), SHIPPED_PER_UPDATE):
                chunk = group[start : start + SHIPPED_PER_UPDATE]
                if len(chunk) == 1 or not self._write(shipped_together(chunk)):
                    settle_each(self, chunk)

    def forget(self, entries: list[Shipped]) -> None:
        """Remove the marks `settle_shipped` left for attempts counted whole, once their
        shipment is acknowledged (it will not be sent again)."""
        marks: dict[str, list[str]] = {}
        for hold, charge, opened in entries:
            if not opened:
                marks.setdefault(charge.account, []).append(hold_attribute(hold))
        for account, names in marks.items():
            for start in range(0, len(names), SHIPPED_PER_UPDATE):
                table(self.table_name).update_item(
                    Key={"usage_key": account},
                    UpdateExpression="REMOVE "
                    + ", ".join(names[start : start + SHIPPED_PER_UPDATE]),
                )

    def _write(self, request: dict[str, Any]) -> bool:
        """One conditional write; False when its condition failed."""
        try:
            table(self.table_name).update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _item(self, account: str) -> dict[str, Any]:
        answer = table(self.table_name).get_item(Key={"usage_key": account}, ConsistentRead=True)
        item: dict[str, Any] = answer.get("Item") or {}
        return item


class MemorySpendLedger:
    """The same item and conditions in a dict, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}

    def read(self, account: str, day: str) -> Spent:
        with self._lock:
            return spent(self.items.get(account, {}), day)

    def open(self, hold: str, charge: Charge) -> Period | None:
        with self._lock:
            item = self.items.setdefault(charge.account, {})
            name = hold_attribute(hold)
            if name in item:
                return None
            if refused := over_alone(charge) or passes_limit(item, charge):
                return refused
            item[name] = charge.amount
            self._add(item, charge, day_mode(item, charge.day))
            return None

    def close(self, hold: str, charge: Charge) -> bool:
        with self._lock:
            item = self.items.get(charge.account, {})
            name = hold_attribute(hold)
            if name not in item:
                return False
            del item[name]
            self._add(item, charge, "same" if day_mode(item, charge.day) == "same" else "past")
            return True

    def settle_shipped(self, entries: list[Shipped]) -> None:
        settle_each(self, entries)

    def forget(self, entries: list[Shipped]) -> None:
        with self._lock:
            for hold, charge, opened in entries:
                if not opened:
                    self.items.get(charge.account, {}).pop(hold_attribute(hold), None)

    @staticmethod
    def _add(item: dict[str, Any], charge: Charge, mode: DayMode) -> None:
        item["spent_usd"] = item.get("spent_usd", 0.0) + charge.amount
        item["answers"] = item.get("answers", 0) + charge.answers
        if mode == "new":
            item |= {"day_label": charge.day, "day_spent_usd": 0.0, "day_answers": 0}
        if mode != "past":
            item["day_label"] = charge.day
            item["day_spent_usd"] = item.get("day_spent_usd", 0.0) + charge.amount
            item["day_answers"] = item.get("day_answers", 0) + charge.answers
