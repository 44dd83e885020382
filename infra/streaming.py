"""The metrics stream and its two consumers: the aggregator Lambda (the learning loop) and a
Firehose delivery into the data lake (every outcome, kept for offline training)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.common import dead_letter_queue, log_group
from infra.function import PythonFunction
from infra.layers import Layers
from mecroute.lambda_support.manifest import BY_NAME

# A poison record is retried this often (after bisecting the batch down to it), then parked.
AGGREGATOR_RETRIES = 3
AGGREGATOR_BATCH_SIZE = 100


class Streaming(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layers: Layers,
        stats_table: dynamodb.ITableV2,
        data_lake: s3.IBucket,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.metrics_stream = kinesis.Stream(
            self,
            "MetricsStream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=Duration.hours(24),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.dead_letters = dead_letter_queue(self, "AggregatorDeadLetters")
        self.aggregator = PythonFunction(
            self,
            "Aggregator",
            spec=BY_NAME["aggregator"],
            targets={"stats_table": stats_table},
            available_environment={"STATS_TABLE": stats_table.table_name},
            layers=[layers.shared],
            log_retention=log_retention,
            timeout=Duration.seconds(60),
        )
        self.aggregator.function.add_event_source(
            sources.KinesisEventSource(
                self.metrics_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=AGGREGATOR_BATCH_SIZE,
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=AGGREGATOR_RETRIES,
                max_record_age=Duration.hours(6),
                on_failure=sources.SqsDlq(self.dead_letters),
            )
        )

        delivery_logs = log_group(self, "DataLakeDeliveryLogs", log_retention)
        self.data_lake_delivery = firehose.DeliveryStream(
            self,
            "DataLakeDelivery",
            source=firehose.KinesisStreamSource(self.metrics_stream),
            destination=firehose.S3Bucket(
                data_lake,
                data_output_prefix="outcomes/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/",
                error_output_prefix="errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/",
                compression=firehose.Compression.GZIP,
                buffering_interval=Duration.minutes(5),
                buffering_size=Size.mebibytes(64),
                logging_config=firehose.EnableLogging(delivery_logs),
            ),
        )
