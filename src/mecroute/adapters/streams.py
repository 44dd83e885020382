"""Kinesis metrics stream and S3 artifact store."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mecroute.adapters.aws import QUICK_CONFIG, client

# Entries Kinesis refused in a 200 answer (which the SDK does not retry) are sent again this
# much later: a throttled shard usually takes them within a fraction of a second.
PUT_RECORDS_RETRY_DELAYS_S = (0.05, 0.25)


def _data(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


class KinesisMetricsStream:
    def __init__(self, stream_name: str) -> None:
        self.stream_name = stream_name

    def publish(self, partition_key: str, record: dict[str, Any]) -> None:
        client("kinesis").put_record(
            StreamName=self.stream_name, Data=_data(record), PartitionKey=partition_key
        )

    def publish_all(
        self, partition_key: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Publish `records` (one request's events: a handful, far below PutRecords' 500) and
        return those still refused after retrying them.

        PutRecords answers 200 even when some entries fail (`FailedRecordCount`, an
        `ErrorCode` per refused entry): only the refused entries are sent again, so the
        accepted ones are not duplicated on the stream.
        """
        pending = list(records)
        for delay_s in (0.0, *PUT_RECORDS_RETRY_DELAYS_S):
            if not pending:
                break
            time.sleep(delay_s)
            try:
                response = client("kinesis", QUICK_CONFIG).put_records(
                    StreamName=self.stream_name,
                    Records=[{"Data": _data(r), "PartitionKey": partition_key} for r in pending],
                )
            except (ClientError, BotoCoreError):
                break  # the whole call failed, after the SDK's own retries: all still pending
            pending = [
                record
                for record, entry in zip(pending, response["Records"], strict=True)
                if entry.get("ErrorCode")
            ]
        return pending


class S3ArtifactStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def get(self, key: str) -> bytes:
        body: bytes = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        client("s3").put_object(Bucket=self.bucket, Key=key, Body=data)
