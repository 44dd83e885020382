"""Grants narrower than the L2 helpers: named actions on a table itself, on one index, on named
objects of a bucket; and the manifest's grants of one function.

`TableV2.grant(...)` also covers `<table>/index/*` whenever the table has an index; the
functions here give exactly the ARNs their adapters touch, so no wildcard resource appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mecroute.lambda_support.manifest import Access, Function


def converse_on(scope: Construct, model_id: str) -> iam.PolicyStatement:
    """Bedrock's Converse, authorised as InvokeModel, on the one configured foundation model."""
    model = Stack.of(scope).format_arn(
        service="bedrock", account="", resource="foundation-model", resource_name=model_id
    )
    return iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[model])


def grant_table(table: dynamodb.ITableV2, grantee: iam.IGrantable, *actions: str) -> None:
    """`actions` (dynamodb:GetItem, ...) on the table's items, not on its indexes."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=list(actions), resource_arns=[table.table_arn]
    )


@dataclass(frozen=True)
class Objects:
    """Named objects of a bucket: a grant on these reaches these keys, not the whole bucket."""

    bucket: s3.IBucket
    keys: tuple[str, ...]


# What a manifest resource name stands for in the stack.
Target = dynamodb.ITableV2 | kinesis.IStream | Objects


def _arns(target: Target, access: Access) -> list[str]:
    if isinstance(target, Objects):
        return [target.bucket.arn_for_objects(key) for key in target.keys]
    # jsii interfaces are not runtime-checkable: a stream is what has a stream ARN.
    stream_arn = getattr(target, "stream_arn", None)
    if stream_arn is not None:
        return [stream_arn]
    table = cast(dynamodb.ITableV2, target)
    if access.index is not None:
        return [f"{table.table_arn}/index/{access.index}"]
    return [table.table_arn]


def grant_access(
    grantee: iam.IGrantable, function: Function, targets: Mapping[str, Target]
) -> None:
    """Exactly the manifest's actions of `function` on the resources they name."""
    for access in function.access:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(access.actions),
            resource_arns=_arns(targets[access.resource], access),
        )
