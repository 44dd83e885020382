"""Monitor agent Lambda: RecordOutcome, RecordAttemptFailure, RecordFailure, RecordRejection."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, TypeAdapter

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import monitor as agent
from mecroute.domain.tasks import (
    AttemptFailedTask,
    FailedTask,
    MonitorTask,
    RejectedTask,
    SucceededTask,
)
from mecroute.runtime.observability import logger, metrics, tracer
from mecroute.runtime.settings import MonitorSettings

settings = MonitorSettings.from_env()
log = DynamoDecisionLog(settings.decisions_table)
stream = KinesisMetricsStream(settings.metrics_stream)


monitor_task: TypeAdapter[MonitorTask] = TypeAdapter(MonitorTask)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=monitor_task)
def handler(task: MonitorTask, context: LambdaContext) -> dict[str, Any]:
    now = time.time()
    output: BaseModel
    if isinstance(task, AttemptFailedTask):
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
        output = agent.attempt_failed(task, stream, now)
    elif isinstance(task, SucceededTask):
        record = output = agent.succeeded(task, log, stream, now)
        result = task.result
        metrics.add_dimension(name="Tier", value=result.tier)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=result.latency_ms)
        metrics.add_metric(name="CostUsd", unit=MetricUnit.NoUnit, value=result.cost_usd)
        metrics.add_metric(name="SlaMet", unit=MetricUnit.Count, value=int(record.sla_met))
    elif isinstance(task, FailedTask):
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        output = agent.failed(task, log, stream, now)
    else:
        assert isinstance(task, RejectedTask)
        metrics.add_metric(name="Rejections", unit=MetricUnit.Count, value=1)
        output = agent.rejected(task, log, stream, now)
    return output.model_dump(mode="json")
