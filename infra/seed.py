"""What a fresh deployment starts with: the zoo's ONNX artifacts in S3 and their registry
entries in DynamoDB. The zoo is built at synth by `mecroute.mec.zoo.build_zoo` (offline, from
seeded weights), as the offline runtime seeds moto. MEC nodes register themselves."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from boto3.dynamodb.types import TypeSerializer
from constructs import Construct

from infra.common import lambda_identity
from mecroute.adapters.dynamodb import to_item
from mecroute.domain.registry import ModelSpec
from mecroute.mec.zoo import build_zoo

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "build" / "zoo"
# The bucket's layout: models/<id>/<version>/model.onnx, as each ModelSpec.artifact_key says.
ZOO_UPLOAD_DIR = ROOT / "build" / "zoo-upload"
BATCH_WRITE_LIMIT = 25


def stage_zoo(zoo_dir: Path = ZOO_DIR, upload_dir: Path = ZOO_UPLOAD_DIR) -> list[ModelSpec]:
    """Build the zoo (reusing artifacts already built) and lay it out under its S3 keys."""
    built = build_zoo(zoo_dir)
    shutil.rmtree(upload_dir, ignore_errors=True)
    for spec, path in built:
        target = upload_dir / spec.artifact_key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return [spec for spec, _ in built]


def put_requests(records: list[ModelSpec]) -> list[dict[str, Any]]:
    """BatchWriteItem PutRequests, in DynamoDB's attribute-value JSON."""
    serializer = TypeSerializer()
    return [
        {
            "PutRequest": {
                "Item": {
                    name: serializer.serialize(value)
                    for name, value in to_item(record.model_dump()).items()
                }
            }
        }
        for record in records
    ]


class Seed(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts: s3.IBucket,
        models_table: dynamodb.ITableV2,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.models = stage_zoo()
        if len(self.models) > BATCH_WRITE_LIMIT:
            raise ValueError(f"the zoo has more than {BATCH_WRITE_LIMIT} models: split the batch")

        deployment_logs, deployment_role = lambda_identity(
            self,
            "ArtifactUpload",
            log_retention,
            description="Copies the model zoo into the artifact bucket at deploy time",
        )
        self.artifact_upload = s3deploy.BucketDeployment(
            self,
            "ArtifactUpload",
            sources=[s3deploy.Source.asset(str(ZOO_UPLOAD_DIR))],
            destination_bucket=artifacts,
            # The bucket may hold artifacts uploaded since; never delete what is not in the zoo.
            prune=False,
            retain_on_delete=True,
            role=deployment_role,
            log_group=deployment_logs,
            memory_limit=512,
        )

        items = put_requests(self.models)
        # A new physical id whenever an entry changes makes CloudFormation write them again.
        fingerprint = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
        write = cr.AwsSdkCall(
            service="DynamoDB",
            action="batchWriteItem",
            parameters={"RequestItems": {models_table.table_name: items}},
            physical_resource_id=cr.PhysicalResourceId.of(f"registry-{fingerprint}"),
        )
        registry_logs, registry_role = lambda_identity(
            self,
            "RegistryWrite",
            log_retention,
            description="Writes the zoo's registry entries at deploy time",
        )
        self.registry_write = cr.AwsCustomResource(
            self,
            "RegistryWrite",
            on_create=write,
            on_update=write,
            role=registry_role,
            log_group=registry_logs,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["dynamodb:BatchWriteItem"],
                        resources=[models_table.table_arn],
                    )
                ]
            ),
        )
