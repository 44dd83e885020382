"""The stack only wires the constructs together and grants each agent what it uses."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.layers import shared_layer
from infra.pipeline import Pipeline
from infra.storage import Storage


class MecRouteStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        context = self.node.try_get_context
        storage = Storage(self, "Storage")
        bedrock_model_id = context("bedrock_model_id") or "anthropic.claude-3-haiku-20240307-v1:0"
        environment = {
            **storage.environment(),
            "CLOUD_PROVIDER": context("cloud_provider") or "bedrock",
            "BEDROCK_MODEL_ID": bedrock_model_id,
        }
        pipeline = Pipeline(
            self,
            "Pipeline",
            shared_layer=shared_layer(self, "SharedLayer"),
            environment=environment,
            log_retention=logs.RetentionDays.ONE_MONTH,
        )
        fn, tables = pipeline.functions, storage.tables
        tables["decisions_table"].grant_read_data(fn["context"])
        for table in ("models_table", "nodes_table", "stats_table"):
            tables[table].grant_read_data(fn["resource"])
        tables["models_table"].grant_read_data(fn["cache"])
        tables["cache_table"].grant_read_data(fn["cache"])
        tables["models_table"].grant_read_data(fn["execute"])
        tables["cache_table"].grant_write_data(fn["execute"])
        storage.artifacts.grant_read(fn["execute"])
        tables["decisions_table"].grant_write_data(fn["monitor"])
        storage.metrics_stream.grant_write(fn["monitor"])
        fn["execute"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=[f"arn:aws:bedrock:{self.region}::foundation-model/{bedrock_model_id}"],
            )
        )
        self.state_machine = pipeline.state_machine
