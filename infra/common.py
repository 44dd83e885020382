"""Resources several constructs build the same way: private buckets, dead-letter queues,
log groups, alarms and the roles of deploy-time Lambdas. One place holds their settings."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# What a dead-letter queue parks is kept this long for `python -m mecroute.ops.redrive`.
DEAD_LETTER_RETENTION = Duration.days(14)


def threshold_alarm(
    scope: Construct,
    construct_id: str,
    metric: cloudwatch.IMetric,
    *,
    threshold: float,
    description: str,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int = 1,
    comparison: cloudwatch.ComparisonOperator = (
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    ),
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm on a metric reaching a threshold; no data is not breaching unless said."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=missing,
        alarm_description=description,
    )


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """An SQS-encrypted, TLS-only queue for what could not be processed."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=RemovalPolicy.DESTROY,
    )


def logs_key(scope: Construct) -> kms.IKey:
    """The stack's one key for CloudWatch Logs (rotating): what the pipeline and the agents log
    is encrypted with a key this account controls, not only the service's own."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("LogsKey")
    if existing is not None:
        return existing  # type: ignore[return-value]
    key = kms.Key(
        stack,
        "LogsKey",
        description="CloudWatch Logs: every log group of the app",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
    )
    key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com"))
    return key


def log_group(
    scope: Construct,
    construct_id: str,
    retention: logs.RetentionDays,
    *,
    log_group_name: str | None = None,
) -> logs.LogGroup:
    """A log group with the configured retention and the logs key, removed with the stack."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        encryption_key=logs_key(scope),
        removal_policy=RemovalPolicy.DESTROY,
    )


def lambda_identity(
    scope: Construct, prefix: str, retention: logs.RetentionDays, *, description: str
) -> tuple[logs.LogGroup, iam.Role]:
    """`<prefix>Logs` and `<prefix>Role`: a log group and a role Lambda assumes that may write
    to it (and to nothing else until granted more)."""
    group = log_group(scope, f"{prefix}Logs", retention)
    role = iam.Role(
        scope,
        f"{prefix}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    group.grant_write(role)
    return group, role


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    access_logs: s3.IBucket | None = None,
    access_logs_prefix: str | None = None,
    versioned: bool | None = None,
    object_ownership: s3.ObjectOwnership | None = None,
) -> s3.Bucket:
    """An SSE-S3, TLS-only bucket that blocks public access and is kept when the stack goes."""
    return s3.Bucket(
        scope,
        construct_id,
        versioned=versioned,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=object_ownership,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=RemovalPolicy.RETAIN,
    )


def callers_and_service(
    scope: Construct,
    vpc: ec2.IVpc,
    callers: tuple[str, str],
    service: tuple[str, str],
    port: int,
    why: str,
) -> tuple[ec2.SecurityGroup, ec2.SecurityGroup]:
    """Two security groups, each given as (construct id, description): the callers' and the
    service's, which admits TCP on `port` from the callers only (`why` names the rule)."""
    caller_group, service_group = (
        ec2.SecurityGroup(
            scope, construct_id, vpc=vpc, description=description, allow_all_outbound=True
        )
        for construct_id, description in (callers, service)
    )
    service_group.add_ingress_rule(caller_group, ec2.Port.tcp(port), why)
    return caller_group, service_group
