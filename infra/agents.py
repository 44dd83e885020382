"""The six agents: one Lambda each, with exactly the permissions its adapters use.

Timeouts come from the ASL file, so a function never outlives the state that waits for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import AppConfig
from infra.function import PythonFunction
from infra.grants import grant_index_query, grant_table
from infra.layers import Layers
from infra.storage import Storage
from infra.streaming import Streaming
from mecroute.adapters.tables import DECISIONS_USER_INDEX
from mecroute.lambda_support.settings import (
    AgentSettings,
    CacheSettings,
    ContextSettings,
    ExecuteSettings,
    MonitorSettings,
    ResourceSettings,
    RouterSettings,
)
from mecroute.mec.zoo import CATALOGUE, artifact_key

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachines" / "inference_pipeline.asl.json"
AGENTS = ("context", "resource", "router", "cache", "execute", "monitor")
SETTINGS: dict[str, type[AgentSettings]] = {
    "context": ContextSettings,
    "resource": ResourceSettings,
    "router": RouterSettings,
    "cache": CacheSettings,
    "execute": ExecuteSettings,
    "monitor": MonitorSettings,
}
DESCRIPTIONS = {
    "context": "Context agent: validates the request, estimates complexity, tokens, privacy",
    "resource": "Resource agent: MEC node health and load, registry, learned statistics",
    "router": "Router agent: hard constraints, weighted scoring, primary and fallbacks",
    "cache": "Cache agent: response cache lookups, loads warm models onto MEC nodes",
    "execute": "Execute agent: runs the request on device, MEC node or cloud (Bedrock)",
    "monitor": "Monitor agent: records each decision and outcome, metrics, stream events",
}
# Agents that import numpy/onnxruntime: execute runs zoo models (the device tier's emulated
# run, the cloud simulator); context runs the learned complexity model.
# tests/infra/test_layers.py imports every other function with them blocked, so this set
# cannot silently fall behind the code.
ONNX_AGENTS = frozenset({"execute", "context"})
# These talk HTTP to MEC nodes, which only answer inside the VPC.
MEC_CALLERS = frozenset({"resource", "cache", "execute"})
MEMORY_MB = {"execute": 1024}


def state_timeouts(asl_file: Path = ASL_FILE) -> dict[str, int]:
    """Longest TimeoutSeconds of the Task states that invoke each agent."""
    states = json.loads(asl_file.read_text())["States"]
    timeouts: dict[str, int] = {}
    for state in states.values():
        resource = state.get("Resource", "")
        for agent in AGENTS:
            if resource == "${" + agent.capitalize() + "FunctionArn}":
                timeouts[agent] = max(timeouts.get(agent, 0), int(state["TimeoutSeconds"]))
    return timeouts


@dataclass(frozen=True)
class AgentNetwork:
    """Where the MEC callers run when the fleet is deployed."""

    vpc: ec2.IVpc
    security_group: ec2.ISecurityGroup


class Agents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        layers: Layers,
        storage: Storage,
        streaming: Streaming,
        network: AgentNetwork | None,
    ) -> None:
        super().__init__(scope, construct_id)
        available = {
            **storage.environment(),
            "METRICS_STREAM": streaming.metrics_stream.stream_name,
            "CLOUD_PROVIDER": config.cloud_provider,
            "BEDROCK_MODEL_ID": config.bedrock_model_id,
        }
        timeouts = state_timeouts()
        self.functions: dict[str, PythonFunction] = {}
        for agent in AGENTS:
            in_vpc = network is not None and agent in MEC_CALLERS
            self.functions[agent] = PythonFunction(
                self,
                # "Resource" would make the resource agent this construct's default child.
                f"{agent.capitalize()}Agent",
                source=agent,
                description=DESCRIPTIONS[agent],
                settings=SETTINGS[agent],
                available_environment=available,
                layers=[layers.shared, *([layers.onnx] if agent in ONNX_AGENTS else [])],
                log_retention=config.log_retention,
                timeout=Duration.seconds(timeouts[agent]),
                memory_size=MEMORY_MB.get(agent, 512),
                vpc=network.vpc if in_vpc and network else None,
                security_groups=[network.security_group] if in_vpc and network else (),
            )
        self._grant(config, storage, streaming)

    def _grant(self, config: AppConfig, storage: Storage, streaming: Streaming) -> None:
        """Each agent gets the calls its adapters make (adapters/dynamodb.py, streams.py)."""
        role = {agent: fn.role for agent, fn in self.functions.items()}
        tables = storage.tables
        # DynamoDecisionLog.recent_count: a query on the by-user index, nothing else.
        grant_index_query(tables["decisions_table"], DECISIONS_USER_INDEX, role["context"])
        for table in ("models_table", "nodes_table", "stats_table"):
            grant_table(tables[table], role["resource"], "dynamodb:Scan")
        grant_table(tables["models_table"], role["cache"], "dynamodb:Scan")
        grant_table(tables["cache_table"], role["cache"], "dynamodb:GetItem")
        grant_table(tables["nodes_table"], role["cache"], "dynamodb:Scan")
        grant_table(tables["stats_table"], role["cache"], "dynamodb:Scan")
        grant_table(tables["models_table"], role["execute"], "dynamodb:Scan")
        grant_table(tables["cache_table"], role["execute"], "dynamodb:PutItem")
        # The device tier's emulated run and the cloud simulator read zoo artifacts by key.
        role["execute"].add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[storage.artifacts.arn_for_objects(artifact_key(e)) for e in CATALOGUE],
            )
        )
        if config.cloud_provider == "bedrock":
            # Converse is authorised as InvokeModel on the one configured foundation model.
            role["execute"].add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="bedrock",
                            account="",
                            resource="foundation-model",
                            resource_name=config.bedrock_model_id,
                        )
                    ],
                )
            )
        # What powertools' DynamoDBPersistenceLayer calls for the execute agent's idempotency.
        grant_table(storage.idempotency_table, role["execute"],
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        )  # fmt: skip
        grant_table(tables["decisions_table"], role["monitor"], "dynamodb:PutItem")
        streaming.grant_publish(role["monitor"])
