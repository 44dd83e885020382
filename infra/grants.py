"""Grants narrower than the L2 helpers: named actions on a table itself or on one index.

`TableV2.grant(...)` also covers `<table>/index/*` whenever the table has an index; the
functions here give exactly the ARNs their adapters touch, so no wildcard resource appears.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam


def grant_table(table: dynamodb.ITableV2, grantee: iam.IGrantable, *actions: str) -> None:
    """`actions` (dynamodb:GetItem, ...) on the table's items, not on its indexes."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=list(actions), resource_arns=[table.table_arn]
    )


def grant_index_query(table: dynamodb.ITableV2, index: str, grantee: iam.IGrantable) -> None:
    """dynamodb:Query on one named index."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["dynamodb:Query"],
        resource_arns=[f"{table.table_arn}/index/{index}"],
    )
