"""Ships queued records to the region in batches: decision records with DynamoDB BatchWriteItem,
their events with Kinesis PutRecords. A message leaves the queue only once all of it is stored;
a retried one writes its record again (keyed by request id) and events a consumer de-duplicates
by event id.

`mecroute gateway` runs it as its own process (`python -m mecroute.gateway.shipper QUEUE_FILE`)
on the same queue file, at a lower priority: its CPU (boto3's serialising and signing) stays off
the request path, and answers come first when the two compete for a core. `mecroute serve`'s
in-process gateways run it as a thread."""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mecroute.adapters.aws import QUICK_CONFIG, client, table
from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.spend_ledger import DynamoSpendLedger, Shipped
from mecroute.gateway.queue import RecordQueue
from mecroute.gateway.settlements import EdgeShipment

BATCH = 200  # messages per drain: about 8 BatchWriteItem calls and one or two PutRecords
# A part-full batch waits this long for more: fewer, fuller calls to the region (each costs the
# gateway a signed request whatever it carries), records still there within about a second.
LINGER_S = 1.0
PUT_RECORDS_LIMIT = 500
# The shipper process's niceness: under CPU contention the request process gets the core first
# (the queue is on disk and bounded; records wait, answers do not).
NICENESS = 5
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# How long a stopping gateway gives its shipper process to ship what is queued (the container's
# stop timeout must exceed it; what is left waits on disk for the next start).
FLUSH_TIMEOUT_S = 50.0
log = logging.getLogger(__name__)


class Shipper:
    def __init__(
        self,
        queue: RecordQueue,
        decisions_table: str,
        metrics_stream: str,
        ledger: DynamoSpendLedger | None = None,
        linger_s: float = LINGER_S,
    ) -> None:
        """`ledger`: the region's usage table, where queued spend settlements are written."""
        self.queue = queue
        self.ledger = ledger
        self.decisions = DynamoDecisionLog(decisions_table)
        self.metrics_stream = metrics_stream
        self.linger_s = linger_s
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="record-shipper", daemon=True)

    def start(self) -> Shipper:
        self._thread.start()
        return self

    def stop(self, flush: bool = True) -> None:
        self._stop.set()
        self._thread.join()
        if flush:
            while self.queue.depth() and self.drain_once():
                pass

    def drain_once(self) -> int:
        """Ship one batch; returns how many messages left the queue (0: empty or failing)."""
        batch = self.queue.peek(BATCH)
        if not batch:
            return 0
        parked = [(i, EdgeShipment.model_validate_json(m)) for i, m in batch]
        try:
            self._write_records([p for _, p in parked])
            done = self._publish_events(parked)
            settled = self._settle([p for i, p in parked if i in set(done)])
        except (ClientError, BotoCoreError) as error:
            self.last_error = str(error)
            log.warning("records not shipped, will retry: %s", error)
            self.queue.failed(self.last_error)
            return 0
        self.last_error = None if len(done) == len(batch) else "some events were refused"
        self.queue.ack(done, self.last_error)
        self._forget(settled)
        return len(done)

    def _forget(self, settled: list[Shipped]) -> None:
        """Acked, the batch is never sent again: its marks can go (a failure leaves them, small
        and harmless, on the caller's month item)."""
        if settled and self.ledger is not None:
            try:
                self.ledger.forget(settled)
            except (ClientError, BotoCoreError) as error:
                log.warning("spend marks not removed: %s", error)

    def _run(self) -> None:
        backoff = self.linger_s
        while not self._stop.is_set():
            if self.drain_once() == BATCH:
                continue  # a backlog: the next batch at once
            # Drained, or the region refused: wait, longer each failing time (at most 5 s).
            backoff = min(5.0, backoff * 2) if self.last_error else self.linger_s
            self._stop.wait(backoff)

    def _settle(self, shipments: list[EdgeShipment]) -> list[Shipped]:
        """Each settlement once per hold, however often it is sent; the batch's together, an
        update per caller and day. What it returns is forgotten once the batch is acked."""
        entries = [s.entry for shipment in shipments for s in shipment.settlements]
        if entries and self.ledger is None:
            raise RuntimeError("a queued spend settlement, and no usage table (USAGE_TABLE)")
        if entries and self.ledger is not None:
            self.ledger.settle_shipped(entries)
        return entries

    def _write_records(self, parked: list[EdgeShipment]) -> None:
        records = [p.record for p in parked if p.record is not None]
        if not records:
            return
        writer: Any = table(self.decisions.table_name, QUICK_CONFIG).batch_writer(
            overwrite_by_pkeys=["request_id"]
        )
        with writer as batch:
            for record in records:
                batch.put_item(Item=self.decisions.item(record))

    def _publish_events(self, parked: list[tuple[int, EdgeShipment]]) -> list[int]:
        entries = [
            (message_id, p.request_id, event.model_dump(mode="json"))
            for message_id, p in parked
            for event in p.events
        ]
        refused: set[int] = set()
        for start in range(0, len(entries), PUT_RECORDS_LIMIT):
            chunk = entries[start : start + PUT_RECORDS_LIMIT]
            response = client("kinesis", QUICK_CONFIG).put_records(
                StreamName=self.metrics_stream,
                Records=[{"Data": _data(e), "PartitionKey": key} for _, key, e in chunk],
            )
            refused |= {
                message_id
                for (message_id, _, _), result in zip(chunk, response["Records"], strict=True)
                if result.get("ErrorCode")
            }
        return [message_id for message_id, _ in parked if message_id not in refused]


def _data(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


class ShipperProcess:
    """The shipper of the queue file at `queue_path` as a child process; SIGTERM: it ships
    everything it can, then exits."""

    def __init__(self, queue_path: Path) -> None:
        self.queue_path = queue_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ShipperProcess:
        command = [sys.executable, "-m", "mecroute.gateway.shipper", str(self.queue_path),
                   "--parent", str(os.getpid())]  # fmt: skip
        self.process = subprocess.Popen(command)  # noqa: S603 - our own module  # nosec B603
        return self

    def stop(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()  # what it held is still on disk, for the next start
            self.process.wait()


def main(argv: list[str] | None = None) -> int:
    from mecroute.gateway.settings import GatewaySettings

    parser = argparse.ArgumentParser(prog="python -m mecroute.gateway.shipper", description=__doc__)
    parser.add_argument("queue", type=Path, help="the gateway's queue file")
    parser.add_argument("--parent", type=int, help="the gateway's process id: exit with it")
    args = parser.parse_args(argv)
    settings = GatewaySettings.from_env()
    if args.parent is not None:
        die_with(args.parent)
    os.nice(NICENESS)
    queue = RecordQueue(args.queue, settings.queue_limit)
    shipper = Shipper(
        queue, settings.decisions_table, settings.metrics_stream, usage_ledger(settings.usage_table)
    ).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    shipper.stop()
    queue.close()
    return 0


def usage_ledger(usage_table: str | None) -> DynamoSpendLedger | None:
    return DynamoSpendLedger(usage_table) if usage_table else None


def die_with(parent: int) -> None:
    """A gateway killed outright takes its shipper with it (Linux's parent-death signal), as
    it took its thread: what the queue holds waits on disk for the restarted gateway's."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the gateway was gone before the signal was set
        sys.exit(0)


if __name__ == "__main__":
    sys.exit(main())
