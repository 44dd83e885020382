"""Redrive the record dead-letter queue: store the decision records and stream events the
pipeline parked there while DynamoDB or Kinesis refused them (or the monitor agent failed).

    python -m mecroute.ops.redrive --queue-url URL --decisions-table T --metrics-stream S

Run it once the cause is fixed (the RecordDeadLettersWaiting alarm says when there is work).
Storing is idempotent: a record is keyed by its request id, so a message handled twice still
leaves exactly one record. A message whose record still cannot be stored is replaced by one
holding only what is left, so what was stored is not stored again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.ports import DecisionLog, MetricsStream
from mecroute.adapters.queues import SqsQueue
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import monitor


@dataclass(frozen=True)
class RedriveReport:
    stored: int
    still_unstored: int


def redrive_queue(queue: SqsQueue, log: DecisionLog, stream: MetricsStream) -> RedriveReport:
    """Redrive the messages waiting when it starts (not those it puts back itself)."""
    stored = still_unstored = 0
    waiting = queue.depth()
    while stored + still_unstored < waiting:
        messages = queue.receive(max_messages=min(10, waiting - stored - still_unstored))
        if not messages:
            break
        for message in messages:
            left = monitor.redrive(message.body, log, stream, time.time())
            if left is not None:
                queue.send(left.model_dump(mode="json"))
                still_unstored += 1
            else:
                stored += 1
            queue.delete(message)
    return RedriveReport(stored, still_unstored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mecroute.ops.redrive", description=__doc__)
    parser.add_argument("--queue-url", default=os.environ.get("RECORD_DEAD_LETTERS_URL"))
    parser.add_argument("--decisions-table", default=os.environ.get("DECISIONS_TABLE"))
    parser.add_argument("--metrics-stream", default=os.environ.get("METRICS_STREAM"))
    args = parser.parse_args(argv)
    if not (args.queue_url and args.decisions_table and args.metrics_stream):
        parser.error("--queue-url, --decisions-table and --metrics-stream are required")
    report = redrive_queue(
        SqsQueue(args.queue_url),
        DynamoDecisionLog(args.decisions_table),
        KinesisMetricsStream(args.metrics_stream),
    )
    print(f"stored {report.stored}; still unstored {report.still_unstored} (back in the queue)")
    return 0 if report.still_unstored == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
