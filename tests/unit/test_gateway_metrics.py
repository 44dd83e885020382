"""What the gateway reports to CloudWatch: its queue's depth, its snapshot's age, and the requests
answered since the last report (what its service scales on); a report that fails is carried into
the next, so no request goes uncounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mecroute.adapters.aws import QUICK_CONFIG, client, reset_clients
from mecroute.gateway.metrics import NAMESPACE, MetricsReporter
from mecroute.gateway.queue import RecordQueue

NOW = 1_800_000_000.0


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
    with Stubber(client("cloudwatch", QUICK_CONFIG)) as stubber:
        yield stubber
    reset_clients()


def expected(requests: int, depth: int, age_s: float) -> dict[str, Any]:
    site = [{"Name": "Site", "Value": "metro-5g"}]
    return {
        "Namespace": NAMESPACE,
        "MetricData": [
            {"MetricName": "QueueDepth", "Dimensions": site, "Value": depth, "Unit": "Count"},
            {"MetricName": "SnapshotAgeSeconds", "Dimensions": site, "Value": age_s,
             "Unit": "Seconds"},
            {"MetricName": "Requests", "Dimensions": site, "Value": requests, "Unit": "Count"},
        ],
    }  # fmt: skip


def test_requests_since_the_last_report_are_sent_and_a_failed_report_is_carried(
    cloudwatch: Stubber, tmp_path: Path
):
    queue = RecordQueue(tmp_path / "q.sqlite", limit=100)
    keeper = SimpleNamespace(current=SimpleNamespace(region_read_at=NOW - 4))
    reporter = MetricsReporter("metro-5g", keeper, queue)  # type: ignore[arg-type]
    for i in range(3):
        queue.put(f"record {i}")
    cloudwatch.add_response("put_metric_data", {}, expected(3, 3, 4.0))
    cloudwatch.add_client_error("put_metric_data", "Throttling")
    cloudwatch.add_response("put_metric_data", {}, expected(2 + 1, 6, 6.0))

    reporter.report(NOW)
    queue.put("record 3")
    queue.put("record 4")
    with pytest.raises(ClientError):
        reporter.report(NOW + 1)
    queue.put("record 5")
    reporter.report(NOW + 2)

    cloudwatch.assert_no_pending_responses()
