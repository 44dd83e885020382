"""checkov over the synthesised template (`make lint`): every finding this design accepts is
skipped on its resources with the reason, in checkov's own `Metadata.checkov.skip`, so the scan
passes only while nothing new appears. Reserved concurrency, which checkov asked for, is set here
on every function (a cap per function keeps one runaway from starving the others; CDK context
`lambda_reserved_concurrency`, null for an account whose concurrency limit is still 10)."""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct


@dataclass(frozen=True)
class Accepted:
    check: str
    resource_type: str
    reason: str
    # Only resources whose construct path contains one of these (empty: every one of the type).
    where: tuple[str, ...] = ()


ACCEPTED = (
    Accepted(
        "CKV_AWS_116",
        "AWS::Lambda::Function",
        "No asynchronous invocation: Step Functions calls the agents synchronously (its Retry "
        "and Catch handle failures), the API calls its functions synchronously, the stream's "
        "failures go to the aggregator's on-failure SQS destination. A Lambda DLQ only "
        "catches asynchronous invocations.",
    ),
    Accepted(
        "CKV_AWS_117",
        "AWS::Lambda::Function",
        "Only the agents that call MEC nodes need the VPC (and run in it); the others reach "
        "AWS APIs only, over TLS, and a VPC would add ENIs and NAT traffic for no isolation.",
    ),
    Accepted(
        "CKV_AWS_173",
        "AWS::Lambda::Function",
        "Environment variables hold resource and secret names, never secrets "
        "(test_no_secret_in_the_template); Lambda encrypts them at rest with its AWS key.",
    ),
    Accepted(
        "CKV_AWS_111",
        "AWS::IAM::Policy",
        "The VPC agents' ENI actions (ec2:CreateNetworkInterface, ...): EC2 offers no "
        "resource-level scoping for them and the ENIs do not exist before the function "
        "(acknowledged to cdk-nag in infra/nag.py too).",
        where=("/Agents/",),
    ),
    Accepted(
        "CKV_AWS_120",
        "AWS::ApiGateway::Stage",
        "Every answer is a fresh inference or a per-caller read: a cache would hand one "
        "caller's answer to another.",
    ),
    Accepted(
        "CKV_AWS_149",
        "AWS::SecretsManager::Secret",
        "The MEC node keys use the AWS-managed aws/secretsmanager key; who may read each "
        "secret is scoped per secret and scope by IAM (docs/security.md), which a customer "
        "key would not narrow further.",
    ),
    Accepted(
        "CKV_AWS_27",
        "AWS::SQS::Queue",
        "Encrypted with SQS-managed keys (SSE-SQS), which checkov does not recognise; a "
        "customer KMS key would add a key policy for no reader it keeps out.",
    ),
    Accepted(
        "CKV_AWS_18",
        "AWS::S3::Bucket",
        "This is the access-log bucket: logging it into itself would loop.",
        where=("/AccessLogs/",),
    ),
    Accepted(
        "CKV_AWS_21",
        "AWS::S3::Bucket",
        "Write-once objects with a lifecycle (access logs, the data lake's partitioned "
        "outcomes): versions would only double what expires.",
        where=("/AccessLogs/", "/DataLake/"),
    ),
)


@jsii.implements(IAspect)
class CheckovFindings:
    """Skips the accepted findings on their resources and caps every app function."""

    def __init__(self, reserved_concurrency: int | None) -> None:
        self.reserved_concurrency = reserved_concurrency

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        path = f"/{node.node.path}/"
        skips = [
            {"id": accepted.check, "comment": accepted.reason}
            for accepted in ACCEPTED
            if accepted.resource_type == node.cfn_resource_type
            and (not accepted.where or any(where in path for where in accepted.where))
        ]
        # CDK's own providers are plain CfnResources of this type, hence an override.
        if node.cfn_resource_type == "AWS::Lambda::Function" and self.reserved_concurrency:
            node.add_property_override("ReservedConcurrentExecutions", self.reserved_concurrency)
        if skips:
            node.add_metadata("checkov", {"skip": skips})
