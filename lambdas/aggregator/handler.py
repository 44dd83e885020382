"""Aggregator Lambda: the metrics stream's consumer, learning per (tier, node, model) statistics.

Each record is applied on its own; a record that fails is reported back to Lambda as a
partial batch failure, so only it is retried (then bisected, then sent to the dead letters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from mecroute.adapters.dynamodb import DynamoStatsStore
from mecroute.agents import aggregator as logic
from mecroute.domain.events import STREAM_EVENT
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import metrics, tracer
from mecroute.lambda_support.settings import AggregatorSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = AggregatorSettings.from_env()
stats = DynamoStatsStore(settings.stats_table)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


@tracer.capture_method(capture_response=False)
def apply_record(record: KinesisStreamRecord) -> None:
    event = STREAM_EVENT.validate_json(record.kinesis.data_as_text())
    if logic.apply(event, stats) is not None:
        metrics.add_metric(name="OutcomesLearned", unit=MetricUnit.Count, value=1)


@lambda_handler()
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
