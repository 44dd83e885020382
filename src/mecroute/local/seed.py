"""Creates the offline AWS resources in moto and seeds the model registry and artifacts.

MEC nodes register themselves in the nodes table when they start (see mecroute.mec.heartbeat).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mecroute.adapters.aws import client
from mecroute.adapters.dynamodb import DynamoModelRegistry
from mecroute.adapters.streams import S3ArtifactStore
from mecroute.adapters.tables import (
    DECISIONS_USER_INDEX,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_TTL,
    TABLE_KEYS,
)
from mecroute.domain.registry import ModelSpec
from mecroute.local.names import Names
from mecroute.mec.zoo import build_zoo


def create_resources(names: Names, zoo_dir: Path) -> list[ModelSpec]:
    dynamodb = client("dynamodb")
    for attribute, (key, _ttl) in TABLE_KEYS.items():
        kwargs: dict[str, Any] = {
            "TableName": getattr(names, attribute),
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if attribute == "decisions_table":
            kwargs["AttributeDefinitions"] += [
                {"AttributeName": "user_id", "AttributeType": "S"},
                {"AttributeName": "recorded_at", "AttributeType": "N"},
            ]
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": DECISIONS_USER_INDEX,
                    "KeySchema": [
                        {"AttributeName": "user_id", "KeyType": "HASH"},
                        {"AttributeName": "recorded_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ]
        dynamodb.create_table(**kwargs)
    # Powertools idempotency for the execute agent, as infra/storage.py declares it.
    dynamodb.create_table(
        TableName=names.idempotency_table,
        KeySchema=[{"AttributeName": IDEMPOTENCY_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": IDEMPOTENCY_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=names.idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL},
    )
    client("s3").create_bucket(Bucket=names.artifacts_bucket)
    client("kinesis").create_stream(StreamName=names.metrics_stream, ShardCount=1)
    # Where the state machine parks decision records it could not store (infra/pipeline.py).
    client("sqs").create_queue(
        QueueName=names.record_dead_letters_queue,
        Attributes={"MessageRetentionPeriod": str(14 * 86400)},
    )
    return seed_registry(names, zoo_dir)


def seed_registry(names: Names, zoo_dir: Path) -> list[ModelSpec]:
    registry = DynamoModelRegistry(names.models_table)
    artifacts = S3ArtifactStore(names.artifacts_bucket)
    specs = []
    for spec, path in build_zoo(zoo_dir):
        artifacts.put(spec.artifact_key, path.read_bytes())
        registry.put(spec)
        specs.append(spec)
    return specs
