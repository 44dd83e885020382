"""cdk-nag 3: the AwsSolutions pack over the whole app, and every finding acknowledged in it.

Each acknowledgment sits on the narrowest construct that holds the finding and names the one
finding it covers (`Rule[finding]` for rules that report several). Findings that could be
fixed were fixed instead (own Lambda roles without managed policies, grants on exact table,
index and object ARNs, one invoke statement per function ARN, WAF, access logs, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, App, DefaultStackSynthesizer, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.agents import Agents
    from infra.api import Api
    from infra.config import AppConfig
    from infra.edge_gateways import EdgeGateways
    from infra.mec_fleet import MecFleet
    from infra.pipeline import Pipeline
    from infra.seed import Seed
    from infra.storage import Storage
    from infra.streaming import Streaming

XRAY = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource ARN: AWS documents "
    "Resource '*' for them (active tracing is required on every function)."
)
VPC_ENI = (
    "Lambda in a VPC creates, describes and deletes its own network interfaces: "
    "ec2:Describe* has no resource-level permissions and the ENI ids do not exist before the "
    "function does."
)
S3_GRANT_ACTIONS = ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")


def check_app(app: App) -> None:
    """Run the AwsSolutions pack at synth: any unacknowledged finding fails the synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_findings(
    stack: Stack,
    *,
    config: AppConfig,
    storage: Storage,
    streaming: Streaming,
    agents: Agents,
    pipeline: Pipeline,
    api: Api,
    fleet: MecFleet | None,
    seed: Seed,
    gateways: EdgeGateways | None = None,
) -> None:
    def ref(construct: IConstruct) -> str:
        """How cdk-nag names an ARN attribute in a finding: <LogicalId.Arn>."""
        default_child = construct.node.default_child
        assert default_child is not None
        return f"<{stack.get_logical_id(default_child)}.Arn>"  # type: ignore[arg-type]

    # -- Lambda roles: X-Ray, and ENIs for the agents placed in the VPC -------------------
    functions = {**agents.functions, "aggregator": streaming.aggregator,
                 "api-reads": api.reads, "api-feedback": api.feedback}  # fmt: skip
    for fn in functions.values():
        in_vpc = fn.function.is_bound_to_vpc
        acknowledge(
            fn.role, "AwsSolutions-IAM5[Resource::*]", f"{XRAY} {VPC_ENI}" if in_vpc else XRAY
        )

    # -- Step Functions ----------------------------------------------------------------------
    acknowledge(
        pipeline.state_machine.role,
        "AwsSolutions-IAM5[Resource::*]",
        f"{XRAY} Logging to CloudWatch Logs goes through the vended-log delivery API "
        "(logs:CreateLogDelivery, PutResourcePolicy, ...), which AWS documents with "
        "Resource '*' for Step Functions.",
    )

    acknowledge(
        pipeline.record_dead_letters,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter destination: the state machine parks decision "
        "records it could not store here for redrive; a DLQ of it would have nothing to catch. "
        "The RecordDeadLettersWaiting alarm watches it.",
    )

    # -- API ---------------------------------------------------------------------------------
    acknowledge(
        api.rest_api,
        "AwsSolutions-COG4",
        "Callers are devices and services holding AWS credentials (IAM roles, Cognito "
        "identity-pool roles), so every method uses AWS_IAM (SigV4) authorisation rather "
        "than a user-pool token authorizer; there are no end-user accounts here."
        if config.api_auth == "iam"
        else "api_auth=api_key was chosen in CDK context: clients are identified by API key "
        "and limited by the usage plan; there is no user pool.",
    )
    if config.api_auth == "api_key":
        acknowledge(
            api.rest_api,
            "AwsSolutions-APIG4",
            "api_auth=api_key was chosen in CDK context for clients that cannot sign "
            "requests: every method requires an API key, throttled and capped by the usage "
            "plan. The default (api_auth=iam) signs every request with SigV4.",
        )
    if config.api_cloudwatch_role:
        acknowledge(
            api.rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-wide role API Gateway uses to write execution logs (APIG6) must be "
            "able to create any API's log groups; AWS publishes and maintains this policy for "
            "exactly that role. Set api_cloudwatch_role=false when the account has one.",
        )

    # -- Streaming: dead letters and the data-lake delivery -----------------------------------
    acknowledge(
        streaming.dead_letters,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter destination: the aggregator's Kinesis event "
        "source sends records it gave up on here (on-failure destination); a DLQ of it would "
        "have nothing to catch. The DeadLettersWaiting alarm watches it.",
    )
    acknowledge(
        streaming.data_lake_delivery,
        "AwsSolutions-KDF1",
        "Firehose cannot enable its own server-side encryption when a Kinesis data stream is "
        "the source; records are encrypted at rest by the stream (aws/kinesis) and by SSE-S3 "
        "in the data-lake bucket.",
    )
    delivery_role = streaming.data_lake_delivery.node.find_child("S3 Destination Role")
    for action in S3_GRANT_ACTIONS:
        acknowledge(
            delivery_role,
            f"AwsSolutions-IAM5[Action::{action}]",
            "Granted by the Firehose L2's S3 destination (bucket.grantReadWrite): delivery "
            "lists, reads back and aborts multipart uploads; limited to the data-lake bucket.",
        )
    acknowledge(
        delivery_role,
        f"AwsSolutions-IAM5[Resource::{ref(storage.data_lake)}/*]",
        "Firehose writes new objects under date-partitioned keys in the data-lake bucket; "
        "the keys do not exist before delivery.",
    )

    # -- Seeding the model zoo (BucketDeployment) ---------------------------------------------
    _acknowledge_artifact_upload(stack, seed, ref(storage.artifacts))

    # -- MEC fleet -----------------------------------------------------------------------------
    if fleet is not None:
        acknowledge(
            fleet.keys,
            "AwsSolutions-SMG4",
            "The MEC node keys are random HMAC keys, not database credentials: no AWS-hosted "
            "rotation template applies. Rotate by writing a new value (put-secret-value): "
            "callers re-read within 5 minutes, nodes on their next start (docs/security.md).",
        )
        for task in fleet.task_definitions.values():
            acknowledge(
                task,
                "AwsSolutions-ECS2",
                "The node image is configured by environment only (docs/mec-node.md): site "
                "profile and overrides, port, and the artifact bucket and table names. None is "
                "a secret; credentials come from the task role.",
            )
            assert task.execution_role is not None
            acknowledge(
                task.execution_role,
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken, which pulling the node image needs, has no "
                "resource-level permissions; the image pull itself is scoped to the asset "
                "repository.",
            )

    # -- Edge gateways ---------------------------------------------------------------------------
    for task in gateways.task_definitions.values() if gateways else []:
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The gateway is configured by environment only: its site, port, queue directory "
            "and the table, stream and bucket names. None is a secret; credentials come from "
            "the task role.",
        )
        assert task.execution_role is not None
        acknowledge(
            task.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken, which pulling the image needs, has no resource-level "
            "permissions; the image pull itself is scoped to the asset repository.",
        )
        acknowledge(
            task.task_role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions; the statement is "
            "limited to the gateway's own namespace by the cloudwatch:namespace condition.",
        )

    # -- The CDK's own validation plugin -------------------------------------------------------
    acknowledge(
        stack,
        "CloudFormation-Validate::W7001",
        "The Firehose L2 always adds the mapping of Firehose's CIDR blocks (used by Redshift, "
        "OpenSearch and Splunk destinations); with an S3 destination nothing references it.",
    )


def _acknowledge_artifact_upload(stack: Stack, seed: Seed, artifacts_arn: str) -> None:
    role = seed.artifact_upload.handler_role
    qualifier = (
        stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier")
        or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    assets = f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*"
    for action in S3_GRANT_ACTIONS:
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Action::{action}]",
            "Granted by CDK's BucketDeployment: it reads the zoo's asset from the bootstrap "
            "bucket and copies it into the artifact bucket; both are single named buckets.",
        )
    for resource in (assets, f"{artifacts_arn}/*"):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{resource}]",
            "BucketDeployment copies every object of the zoo asset (from the CDK bootstrap "
            "asset bucket) to keys under models/ in the artifact bucket.",
        )
    # The provider is a singleton at stack level, named by CDK.
    provider = next(
        child
        for child in stack.node.children
        if child.node.id.startswith("Custom::CDKBucketDeployment")
    )
    acknowledge(
        provider,
        "AwsSolutions-L1",
        "CDK's BucketDeployment provider: its Python runtime is pinned by aws-cdk-lib with the "
        "AWS CLI layer it ships, and is not configurable. It runs only during deployments.",
    )
