"""DynamoDB tables, the artifact bucket and the metrics stream, with the offline key schemas."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mecroute.adapters.tables import DECISIONS_USER_INDEX, TABLE_KEYS


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.TableV2] = {}
        for attribute, (key, ttl) in TABLE_KEYS.items():
            name = attribute.removesuffix("_table").capitalize()
            table = dynamodb.TableV2(
                self,
                f"{name}Table",
                partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
                billing=dynamodb.Billing.on_demand(),
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
                time_to_live_attribute=ttl,
                removal_policy=RemovalPolicy.RETAIN,
            )
            if attribute == "decisions_table":
                table.add_global_secondary_index(
                    index_name=DECISIONS_USER_INDEX,
                    partition_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="recorded_at", type=dynamodb.AttributeType.NUMBER),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                )
            self.tables[attribute] = table
        self.artifacts = s3.Bucket(
            self,
            "Artifacts",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.metrics_stream = kinesis.Stream(
            self,
            "MetricsStream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.MANAGED,
        )

    def environment(self) -> dict[str, str]:
        env = {attribute.upper(): table.table_name for attribute, table in self.tables.items()}
        env["ARTIFACTS_BUCKET"] = self.artifacts.bucket_name
        env["METRICS_STREAM"] = self.metrics_stream.stream_name
        return env
