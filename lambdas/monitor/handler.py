"""Monitor agent Lambda: RecordAttemptFailure, RecordOutcome, RecordFailure, RecordNoRoute,
RecordRejection, RecordError.

A record that could not be stored (a throttled table, a stream refusing entries) does not fail
the state: the receipt says what is missing and the state machine parks it in the record
dead-letter queue, so the caller still gets its answer.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import monitor as agent
from mecroute.domain.errors import is_rejection
from mecroute.domain.messages import RecordReceipt
from mecroute.domain.tasks import AttemptFailedTask, MonitorTask, SucceededTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import MonitorSettings

settings = MonitorSettings.from_env()
log = DynamoDecisionLog(settings.decisions_table)
stream = KinesisMetricsStream(settings.metrics_stream)

monitor_task: TypeAdapter[MonitorTask] = TypeAdapter(MonitorTask)


def count(task: MonitorTask, receipt: RecordReceipt) -> None:
    record = receipt.record
    if isinstance(task, SucceededTask) and record.result is not None:
        result = record.result
        metrics.add_dimension(name="Tier", value=result.tier)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        if agent.is_replay(record):
            # Nothing ran: the earlier request already counted its latency and cost.
            metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
        else:
            latency_ms = result.latency_ms
            metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
            metrics.add_metric(name="CostUsd", unit=MetricUnit.NoUnit, value=result.cost_usd)
            metrics.add_metric(name="SlaMet", unit=MetricUnit.Count, value=int(record.sla_met))
            if record.timing is not None:
                overhead_ms = record.timing.routing_overhead_ms
                metrics.add_metric(
                    name="RoutingOverhead", unit=MetricUnit.Milliseconds, value=overhead_ms
                )
    elif record.decision is not None:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
    elif is_rejection(record.error):
        metrics.add_metric(name="Rejections", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PipelineErrors", unit=MetricUnit.Count, value=1)
    if not receipt.stored:
        metrics.add_metric(name="RecordsDeadLettered", unit=MetricUnit.Count, value=1)


@lambda_handler(monitor_task)
def handler(task: MonitorTask, context: LambdaContext) -> dict[str, Any]:
    now = time.time()
    if isinstance(task, AttemptFailedTask):
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
        return agent.attempt_failed(task, now).model_dump(mode="json")
    receipt = agent.record(task, log, stream, now)
    if receipt.unstored is not None:
        logger.warning(
            "record not stored: parked for redrive",
            extra={"request_id": receipt.record.request_id, "reason": receipt.unstored.reason},
        )
    count(task, receipt)
    return receipt.model_dump(mode="json")
