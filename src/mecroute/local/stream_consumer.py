"""The learning loop offline: reads the local metrics stream and hands each batch to the real
aggregator handler in the event Lambda's Kinesis event source mapping sends, retrying a batch
from its first failed record as Lambda does (the aggregator drops what it already folded in).
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

from mecroute.adapters.aws import client
from mecroute.lambda_support.manifest import BY_NAME
from mecroute.local.lambdas import FUNCTION_PREFIX, FakeLambdaContext, Handler, load_handler

log = logging.getLogger(__name__)

# As infra/streaming.py configures the deployed event source mapping.
BATCH_SIZE = 100
RETRIES = 3


class StreamConsumer:
    """Polls every shard of `stream` from its oldest record; `drain()` reads until caught up."""

    def __init__(self, stream: str, handler: Handler, poll_s: float = 0.5) -> None:
        self.stream = stream
        self.handler = handler
        self.poll_s = poll_s
        self.applied = 0
        self._iterators: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def aggregator(cls, stream: str, poll_s: float = 0.5) -> StreamConsumer:
        """The real aggregator Lambda handler (its settings read the environment: start the
        offline runtime first)."""
        return cls(stream, load_handler(BY_NAME["aggregator"].source.parent, "aggregator"), poll_s)

    def start(self) -> StreamConsumer:
        self._thread = threading.Thread(target=self._run, name="stream-consumer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def drain(self) -> int:
        """Read every shard up to its latest record, applying each batch; how many records."""
        with self._lock:
            kinesis = client("kinesis")
            if not self._iterators:
                shards = kinesis.list_shards(StreamName=self.stream)["Shards"]
                self._iterators = {
                    shard["ShardId"]: kinesis.get_shard_iterator(
                        StreamName=self.stream,
                        ShardId=shard["ShardId"],
                        ShardIteratorType="TRIM_HORIZON",
                    )["ShardIterator"]
                    for shard in shards
                }
            read = 0
            for shard_id, iterator in list(self._iterators.items()):
                while True:
                    page = kinesis.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
                    iterator = page["NextShardIterator"]
                    if page["Records"]:
                        self._deliver(shard_id, page["Records"])
                        read += len(page["Records"])
                    if not page["Records"] or page.get("MillisBehindLatest", 0) == 0:
                        break
                self._iterators[shard_id] = iterator
            self.applied += read
            return read

    def _run(self) -> None:
        while not self._stopped.wait(self.poll_s):
            try:
                self.drain()
            except Exception:  # the consumer outlives a moto hiccup, as the mapping would
                log.exception("reading %s failed; retrying", self.stream)

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """One batch to the handler; a batch with failed records is sent again from the first
        of them, up to RETRIES times, then the rest is dropped with a log line (in AWS it goes
        to the on-failure destination)."""
        for _ in range(1 + RETRIES):
            answer = self.handler(
                {"Records": [_event_record(shard_id, r) for r in records]},
                FakeLambdaContext(function_name=f"{FUNCTION_PREFIX}aggregator"),
            )
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
            if not failed:
                return
            first = next(i for i, r in enumerate(records) if r["SequenceNumber"] in failed)
            records = records[first:]
        log.error("%s: %d records still failing after %d retries", shard_id, len(records), RETRIES)


def _event_record(shard_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """One Kinesis record as Lambda's event source mapping delivers it."""
    arrived = record.get("ApproximateArrivalTimestamp")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrived.timestamp() if arrived else 0.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/local",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/local",
    }
