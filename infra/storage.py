"""The stateful part: DynamoDB tables (offline key schemas), the artifact and data-lake buckets
and the bucket their access logs go to. Everything here is retained when the stack goes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.common import private_bucket
from mecroute.adapters.tables import (
    DECISIONS_USER_INDEX,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_TTL,
    TABLE_KEYS,
)
from mecroute.gateway.auth import API_KEY_HASH

__all__ = ["IDEMPOTENCY_KEY", "IDEMPOTENCY_TTL", "Storage"]


def _table(scope: Construct, construct_id: str, key: str, ttl: str | None) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        time_to_live_attribute=ttl,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.TableV2] = {}
        for attribute, (key, ttl) in TABLE_KEYS.items():
            name = attribute.removesuffix("_table").capitalize()
            table = _table(self, f"{name}Table", key, ttl)
            if attribute == "decisions_table":
                table.add_global_secondary_index(
                    index_name=DECISIONS_USER_INDEX,
                    partition_key=dynamodb.Attribute(
                        name="user_id", type=dynamodb.AttributeType.STRING
                    ),
                    sort_key=dynamodb.Attribute(
                        name="recorded_at", type=dynamodb.AttributeType.NUMBER
                    ),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                )
            self.tables[attribute] = table
        self.idempotency_table = _table(self, "IdempotencyTable", IDEMPOTENCY_KEY, IDEMPOTENCY_TTL)
        # The edge gateways' callers: {key_sha256, user_id} items (docs/security.md).
        self.api_keys_table = _table(self, "ApiKeysTable", API_KEY_HASH, None)

        # Server access logs need SSE-S3 on the target bucket (SSE-KMS is not supported).
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))
            ],
        )
        self.artifacts = private_bucket(
            self,
            "Artifacts",
            versioned=True,
            access_logs=self.access_logs,
            access_logs_prefix="artifacts/",
            lifecycle_rules=[
                # Versioning keeps every replaced model; old versions need not live forever.
                s3.LifecycleRule(
                    id="expire-replaced-models",
                    noncurrent_version_expiration=Duration.days(90),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        self.data_lake = private_bucket(
            self,
            "DataLake",
            access_logs=self.access_logs,
            access_logs_prefix="data-lake/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tier-then-expire-outcomes",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        ),
                    ],
                    expiration=Duration.days(730),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

    def environment(self) -> dict[str, str]:
        """Variables the settings models read (MODELS_TABLE, ...), for every table and bucket."""
        env = {attribute.upper(): table.table_name for attribute, table in self.tables.items()}
        env["IDEMPOTENCY_TABLE"] = self.idempotency_table.table_name
        env["ARTIFACTS_BUCKET"] = self.artifacts.bucket_name
        return env
