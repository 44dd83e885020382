"""Monitor agent Lambda: RecordAttemptFailure, ComposeAnswer, RecordOutcome, RecordFailure,
RecordNoRoute, RecordRejection, RecordError.

A success is answered before it is stored: ComposeAnswer builds the record (pure, no store),
which the state machine returns to the caller, and RecordOutcome hands the same record back
as an asynchronous event (`store`) that writes it to DynamoDB and Kinesis off the caller's
path. Lambda retries a failing event, then sends it to the record dead-letter queue; what a
store could not write (a throttled table, a stream refusing entries) is parked there too.
Either way the caller's answer is the same, and `python -m mecroute.ops.redrive` stores it.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.queues import SqsQueue
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import monitor as agent
from mecroute.domain.errors import is_rejection
from mecroute.domain.messages import MonitorRecord, RecordReceipt
from mecroute.domain.tasks import AttemptFailedTask, MonitorTask, StoreTask, SucceededTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import MonitorSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = MonitorSettings.from_env()
log = DynamoDecisionLog(settings.decisions_table)
stream = KinesisMetricsStream(settings.metrics_stream)

monitor_task: TypeAdapter[MonitorTask] = TypeAdapter(MonitorTask)


def count(record: MonitorRecord, stored: bool) -> None:
    if record.status == "succeeded" and record.result is not None:
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
    if not stored:
        metrics.add_metric(name="RecordsDeadLettered", unit=MetricUnit.Count, value=1)


@functools.cache
def dead_letters() -> SqsQueue:
    """The record dead-letter queue, its URL looked up when first needed (once a container)."""
    return SqsQueue.named(settings.record_dead_letters_queue)


def store(task: StoreTask) -> RecordReceipt:
    """RecordOutcome's event: store the answered record; park whatever did not make it.
    Lambda delivers an event at least once: a repeat finds the record stored and is done."""
    record = task.record
    receipt = agent.store_answered(record, log, stream)
    if receipt is None:
        return RecordReceipt(record=record, stored=True)  # counted when it was stored
    if receipt.unstored is not None:
        warn_unstored(receipt)
        # Raises if the queue is down too: Lambda retries the event, then dead-letters it.
        dead_letters().send(receipt.unstored.model_dump(mode="json"))
    count(record, receipt.stored)
    return receipt


def warn_unstored(receipt: RecordReceipt) -> None:
    if receipt.unstored is not None:
        logger.warning(
            "record not stored: parked for redrive",
            extra={"request_id": receipt.record.request_id, "reason": receipt.unstored.reason},
        )


@lambda_handler(monitor_task)
def handler(task: MonitorTask, context: LambdaContext) -> dict[str, Any]:
    now = time.time()
    if isinstance(task, AttemptFailedTask):
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
        return agent.attempt_failed(task, now).model_dump(mode="json")
    if isinstance(task, SucceededTask):
        # ComposeAnswer: the caller's answer; RecordOutcome stores it asynchronously.
        return agent.build_record(task, now).model_dump(mode="json")
    if isinstance(task, StoreTask):
        return store(task).model_dump(mode="json")
    # A failure path's record: stored now, its unstored part parked by the state machine.
    receipt = agent.record(task, log, stream, now)
    warn_unstored(receipt)
    count(receipt.record, receipt.stored)
    return receipt.model_dump(mode="json")
