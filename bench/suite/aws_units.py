"""What one AWS call is billed in, from its parameters and response: DynamoDB read and write
request units (on-demand) and Kinesis data in kilobytes; other calls are counted by name.

Sizes follow DynamoDB's item-size rules (attribute names plus values; a number about one byte
per two digits); an UpdateItem is sized by its key and the values it sets, which is a lower
bound (DynamoDB bills the larger of the item before and after), and so is a Query that only
counts (billed here at its minimum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
KINESIS_KB = 1024  # on-demand data is billed per record, rounded up to 1 KB
TYPE_CODES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
READS = frozenset({"GetItem", "Query", "Scan"})


def value_bytes(value: Any) -> int:
    """A value's size, in either the client's typed form ({"S": ...}) or the resource's."""
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in TYPE_CODES:
        ((code, inner),) = value.items()
        if code == "N":
            return number_bytes(str(inner))
        if code in ("NULL", "BOOL"):
            return 1
        if code in ("SS", "NS", "BS"):
            return sum(value_bytes({code[0]: member}) for member in inner)
        if code == "L":
            return 3 + sum(1 + value_bytes(member) for member in inner)
        if code == "M":
            return 3 + item_bytes(inner) + len(inner)
        return len(inner.encode()) if isinstance(inner, str) else len(inner)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return number_bytes(str(value))
    if isinstance(value, Mapping):
        return 3 + item_bytes(value) + len(value)
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + value_bytes(member) for member in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def number_bytes(text: str) -> int:
    digits = sum(1 for char in text if char.isdigit())
    return 1 + math.ceil(digits / 2)


def item_bytes(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units if consistent else units / 2)


def _written_bytes(operation: str, request: Mapping[str, Any]) -> int:
    if operation == "PutItem" or "Item" in request:
        return item_bytes(request["Item"])
    # UpdateItem, DeleteItem, ConditionCheck: the key, plus what an update sets.
    values = request.get("ExpressionAttributeValues", {})
    return item_bytes(request["Key"]) + sum(value_bytes(v) for v in values.values())


def units(
    service: str, operation: str, params: Mapping[str, Any], response: Mapping[str, Any]
) -> dict[str, float]:
    """{billing unit: amount} for one call; unpriced calls as {"call <service>:<op>": 1}."""
    if service == "dynamodb" and operation in WRITES:
        return {"dynamodb_write_units": write_units(_written_bytes(operation, params))}
    if service == "dynamodb" and operation == "TransactWriteItems":
        # A transaction costs two units per kilobyte of each item it writes or checks.
        total = 0.0
        for entry in params["TransactItems"]:
            ((kind, request),) = entry.items()
            total += 2 * write_units(_written_bytes(kind, request))
        return {"dynamodb_write_units": total}
    if service == "dynamodb" and operation in READS:
        consistent = bool(params.get("ConsistentRead"))
        items = [response["Item"]] if response.get("Item") else response.get("Items", [])
        return {"dynamodb_read_units": read_units(sum(map(item_bytes, items)), consistent)}
    if service == "kinesis" and operation in ("PutRecord", "PutRecords"):
        sizes = [
            len(record["Data"]) + len(record["PartitionKey"].encode())
            for record in params.get("Records", [params])
        ]
        return {
            "kinesis_kb": float(sum(math.ceil(size / KINESIS_KB) for size in sizes)),
            # Firehose, the stream's second consumer, bills each record in 5 KB steps.
            "firehose_kb": float(sum(5 * math.ceil(size / (5 * KINESIS_KB)) for size in sizes)),
        }
    return {f"call {service}:{operation}": 1.0}
