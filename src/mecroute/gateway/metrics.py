"""What the gateway tells CloudWatch every 30 s (namespace mecroute/gateway, dimension Site):
its record queue's depth and its snapshot's age, what its alarms watch, and the requests it
answered since the last report, what its service scales on (infra/edge_gateways.py)."""

from __future__ import annotations

import logging
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from mecroute.adapters.aws import QUICK_CONFIG, client
from mecroute.gateway.queue import RecordQueue
from mecroute.gateway.snapshot import SnapshotKeeper

NAMESPACE = "mecroute/gateway"
INTERVAL_S = 30.0
log = logging.getLogger(__name__)


class MetricsReporter:
    def __init__(self, site: str, keeper: SnapshotKeeper, queue: RecordQueue) -> None:
        self.site = site
        self.keeper = keeper
        self.queue = queue
        self._reported = queue.accepted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-metrics", daemon=True)

    def start(self) -> MetricsReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, now: float) -> None:
        dimensions = [{"Name": "Site", "Value": self.site}]
        snapshot = self.keeper.current
        accepted = self.queue.accepted  # every answered request leaves one record
        requests = accepted - self._reported
        client("cloudwatch", QUICK_CONFIG).put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": "QueueDepth", "Dimensions": dimensions,
                 "Value": self.queue.depth(), "Unit": "Count"},
                {"MetricName": "SnapshotAgeSeconds", "Dimensions": dimensions,
                 "Value": max(0.0, now - snapshot.region_read_at), "Unit": "Seconds"},
                {"MetricName": "Requests", "Dimensions": dimensions,
                 "Value": requests, "Unit": "Count"},
            ],
        )  # fmt: skip
        self._reported = accepted  # a report that failed is carried into the next one

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            try:
                self.report(time.time())
            except (ClientError, BotoCoreError) as error:
                log.warning("gateway metrics not sent: %s", error)
