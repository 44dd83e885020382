"""Kinesis metrics stream and S3 artifact store."""

from __future__ import annotations

import json
from typing import Any

from mecroute.adapters.aws import client


class KinesisMetricsStream:
    def __init__(self, stream_name: str) -> None:
        self.stream_name = stream_name

    def publish(self, partition_key: str, record: dict[str, Any]) -> None:
        client("kinesis").put_record(
            StreamName=self.stream_name,
            Data=json.dumps(record, separators=(",", ":")).encode(),
            PartitionKey=partition_key,
        )


class S3ArtifactStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def get(self, key: str) -> bytes:
        body: bytes = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        client("s3").put_object(Bucket=self.bucket, Key=key, Body=data)
