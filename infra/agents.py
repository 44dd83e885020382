"""The six agents: one Lambda each, built with its grants from the agent manifest
(mecroute.lambda_support.manifest).

Timeouts come from the ASL file, so a function never outlives the state that waits for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import AppConfig
from infra.function import PythonFunction
from infra.grants import Objects, Target, converse_on
from infra.layers import Layers
from infra.node_keys import NodeKeys
from infra.storage import Storage
from infra.streaming import Streaming
from mecroute.lambda_support.manifest import AGENTS, BY_NAME
from mecroute.mec.zoo import CATALOGUE, artifact_key

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachines" / "inference_pipeline.asl.json"
PIPELINE_AGENTS = tuple(BY_NAME[agent] for agent in AGENTS)


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
    node_keys: NodeKeys
    node_networks: str


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
        record_dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        available = {
            **storage.environment(),
            "METRICS_STREAM": streaming.metrics_stream.stream_name,
            # Its grant comes with the monitor's on-failure destination (infra/pipeline.py).
            "RECORD_DEAD_LETTERS_QUEUE": record_dead_letters.queue_name,
            "CLOUD_PROVIDER": config.cloud_provider,
            "BEDROCK_MODEL_ID": config.bedrock_model_id,
        }
        timeouts = state_timeouts()
        targets = self.targets(storage, streaming)
        self.functions: dict[str, PythonFunction] = {}
        for spec in PIPELINE_AGENTS:
            in_vpc = network is not None and spec.mec_caller
            self.functions[spec.name] = PythonFunction(
                self,
                # "Resource" would make the resource agent this construct's default child.
                f"{spec.name.capitalize()}Agent",
                spec=spec,
                targets=targets,
                available_environment=available,
                layers=[layers.shared, *([layers.onnx] if spec.onnx else [])],
                log_retention=config.log_retention,
                timeout=Duration.seconds(timeouts[spec.name]),
                vpc=network.vpc if in_vpc and network else None,
                security_groups=[network.security_group] if in_vpc and network else (),
            )
            if in_vpc and network and spec.node_key:
                # The one scope of node key this agent signs with (manifest), every site's.
                built = self.functions[spec.name]
                keys = network.node_keys.environment(network.node_networks, spec.node_key)
                for name, value in keys.items():
                    built.function.add_environment(name, value)
                network.node_keys.grant_read(built.role, spec.node_key)
        if config.cloud_provider == "bedrock":
            self.functions["execute"].role.add_to_principal_policy(
                converse_on(self, config.bedrock_model_id)
            )

    @staticmethod
    def targets(storage: Storage, streaming: Streaming) -> dict[str, Target]:
        """What each manifest resource name is in this stack."""
        return {
            **storage.tables,
            "idempotency_table": storage.idempotency_table,
            "metrics_stream": streaming.metrics_stream,
            # Zoo artifacts by key: the device tier's emulated run and the cloud simulator.
            "artifacts_bucket": Objects(
                storage.artifacts, tuple(artifact_key(entry) for entry in CATALOGUE)
            ),
        }
