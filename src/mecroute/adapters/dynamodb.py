"""DynamoDB-backed stores: model registry, MEC nodes, learned statistics, decisions, cache."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import Binary
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from mecroute.adapters.aws import CLIENT_CONFIG, QUICK_CONFIG, table
from mecroute.adapters.tables import DECISIONS_USER_INDEX
from mecroute.domain.errors import AlreadyRecorded, StoreUnavailable
from mecroute.domain.estimates import RoutingOverhead, RoutingPath
from mecroute.domain.messages import ExecutionResult, MonitorRecord, TierStat
from mecroute.domain.registry import Heartbeat, ModelSpec, NodeRecord

Row = TypeVar("Row", bound=BaseModel)


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB wants Decimal, not float."""
    item: dict[str, Any] = json.loads(json.dumps(data), parse_float=Decimal)
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {key: plain(inner) for key, inner in value.items()}
        if isinstance(value, list | set):
            return [plain(inner) for inner in value]
        return value

    result: dict[str, Any] = plain(item)
    return result


def _scan(table_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table(table_name).scan(**kwargs)
        items.extend(from_item(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _listed(table_name: str, row: type[Row], key: Callable[[Row], str]) -> list[Row]:
    """Every item of the table, validated as `row`, in the order of `key`."""
    return sorted((row.model_validate(item) for item in _scan(table_name)), key=key)


def _put(table_name: str, row: BaseModel) -> None:
    table(table_name).put_item(Item=to_item(row.model_dump()))


class DynamoModelRegistry:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def list_models(self) -> list[ModelSpec]:
        return _listed(self.table_name, ModelSpec, lambda model: model.model_id)

    def put(self, model: ModelSpec) -> None:
        _put(self.table_name, model)


class DynamoNodeDirectory:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def list_nodes(self) -> list[NodeRecord]:
        return _listed(self.table_name, NodeRecord, lambda node: node.node_id)

    def put(self, node: NodeRecord) -> None:
        _put(self.table_name, node)

    def heartbeat(self, node_id: str, beat: Heartbeat) -> bool:
        """Refresh only the health and load fields; False when the node is not registered.

        The condition keeps a heartbeat from creating a partial record (no endpoint, no site)
        that readers could not parse: an unregistered node must register first.
        """
        fields = to_item(beat.model_dump())
        try:
            table(self.table_name).update_item(
                Key={"node_id": node_id},
                UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                ExpressionAttributeNames={f"#{name}": name for name in fields},
                ExpressionAttributeValues={f":{name}": value for name, value in fields.items()},
                ConditionExpression="attribute_exists(node_id)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


# Stats-table items that hold a path's learned routing overhead, not a place's statistic.
OVERHEAD_PREFIX = "overhead#"


class DynamoStatsStore:
    """Learned statistics, one item per `stat_key`; the aggregator writes them optimistically."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def list_stats(self) -> list[TierStat]:
        items = _scan(self.table_name)
        return [_stat(item) for item in items if not item["stat_key"].startswith(OVERHEAD_PREFIX)]

    def get_overhead(self, path: RoutingPath) -> RoutingOverhead | None:
        """The path's learned routing overhead, kept beside the statistics."""
        key = {"stat_key": OVERHEAD_PREFIX + path}
        item = table(self.table_name).get_item(Key=key).get("Item")
        if not item:
            return None
        fields = RoutingOverhead.model_fields
        return RoutingOverhead.model_validate(
            {k: v for k, v in from_item(item).items() if k in fields}
        )

    def put_overhead_if_unchanged(
        self, overhead: RoutingOverhead, expected_samples: int | None
    ) -> bool:
        """Write unless another writer folded a sample in since it was read (then False)."""
        return self._put_if(
            {"stat_key": OVERHEAD_PREFIX + overhead.path, **_learned_item(overhead)},
            "samples",
            expected_samples,
        )

    def get(self, stat_key: str) -> TierStat | None:
        item = table(self.table_name).get_item(Key={"stat_key": stat_key}).get("Item")
        return _stat(from_item(item)) if item else None

    def put_if_unchanged(
        self, stat_key: str, stat: TierStat, expected_revision: int | None
    ) -> bool:
        """Write unless another writer moved the item on since it was read (then False)."""
        return self._put_if(
            {"stat_key": stat_key, **_learned_item(stat)}, "revision", expected_revision
        )

    def _put_if(self, item: dict[str, Any], counter: str, expected: int | None) -> bool:
        return put_if(self.table_name, "stat_key", item, counter, expected)


def put_if(
    table_name: str,
    key: str,
    item: dict[str, Any],
    counter: str = "",
    expected: int | None = None,
    config: Config = CLIENT_CONFIG,
) -> bool:
    """Put `item` unless another writer moved it on since it was read (then False): its
    `counter` must still be `expected`, or the item must not exist when `expected` is None."""
    if expected is None:
        condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(#key)",
            "ExpressionAttributeNames": {"#key": key},
        }
    else:
        condition = {
            "ConditionExpression": "#counter = :expected",
            "ExpressionAttributeNames": {"#counter": counter},
            "ExpressionAttributeValues": {":expected": expected},
        }
    try:
        table(table_name, config).put_item(Item=item, **condition)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _learned_item(learned: TierStat | RoutingOverhead) -> dict[str, Any]:
    """A learned figure's item, with the event ids its dump leaves out (de-duplication)."""
    return {**to_item(learned.model_dump()), "recent_events": list(learned.recent_events)}


def _stat(item: dict[str, Any]) -> TierStat:
    # The item also holds its key (and may grow attributes); TierStat forbids extra fields.
    return TierStat.model_validate({k: v for k, v in item.items() if k in TierStat.model_fields})


class DynamoResponseCache:
    """Expired items are filtered on read; DynamoDB's TTL deletes them later."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, key: str, now: float) -> ExecutionResult | None:
        item = table(self.table_name).get_item(Key={"cache_key": key}).get("Item")
        if not item or float(item["expires_at"]) <= now:
            return None
        return ExecutionResult.model_validate_json(item["result"])

    def put(self, key: str, result: ExecutionResult, expires_at: float) -> None:
        table(self.table_name).put_item(
            Item={
                "cache_key": key,
                "result": result.model_dump_json(),
                "expires_at": int(expires_at),
            }
        )


class DynamoDecisionLog:
    """One item per request id; a GSI on (user_id, recorded_at) answers the user's history."""

    def __init__(self, table_name: str, retention_s: int = 30 * 86400) -> None:
        self.table_name = table_name
        self.retention_s = retention_s

    def item(self, record: MonitorRecord) -> dict[str, Any]:
        """The table item for `record` (also what the edge gateway batch-writes)."""
        item = to_item(
            {
                "request_id": record.request_id,
                "user_id": record.user_id,
                "recorded_at": record.recorded_at,
                "status": record.status,
                "expires_at": int(record.recorded_at + self.retention_s),
            }
        )
        # Compressed: a record is mostly its decision (~3.4 kB of JSON, ~0.7 kB compressed),
        # and a write costs one request unit per started kilobyte.
        item["record"] = zlib.compress(record.model_dump_json().encode())
        return item

    def put(self, record: MonitorRecord) -> None:
        """One write, conditional: the first record of a request id stays; a second (a retry,
        a repeated delivery, a redrive) raises AlreadyRecorded and changes nothing."""
        item = self.item(record)
        try:
            written = put_if(self.table_name, "request_id", item, config=QUICK_CONFIG)
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"decisions table {self.table_name}: {error}") from None
        if not written:
            raise AlreadyRecorded(record.request_id)

    def get(self, request_id: str) -> MonitorRecord | None:
        item = table(self.table_name).get_item(Key={"request_id": request_id}).get("Item")
        return _stored_record(item["record"]) if item else None

    def recent_count(self, user_id: str, since: float) -> int:
        page = table(self.table_name, QUICK_CONFIG).query(
            IndexName=DECISIONS_USER_INDEX,
            KeyConditionExpression=Key("user_id").eq(user_id)
            & Key("recorded_at").gte(Decimal(str(since))),
            Select="COUNT",
        )
        return int(page["Count"])


def _stored_record(stored: Binary | str) -> MonitorRecord:
    if isinstance(stored, str):  # written before records were compressed (kept 30 days)
        return MonitorRecord.model_validate_json(stored)
    return MonitorRecord.model_validate_json(zlib.decompress(stored.value))
