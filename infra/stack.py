"""The stack only wires the constructs together, in the order requests flow through them."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aspects, CfnOutput, Stack
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from infra.agents import Agents
from infra.api import Api
from infra.checkov import CheckovFindings
from infra.config import AppConfig
from infra.deployment import Deployments
from infra.edge_gateways import EdgeGateways
from infra.layers import Layers
from infra.mec_fleet import MecFleet
from infra.nag import acknowledge_findings
from infra.observability import Observability
from infra.pipeline import Pipeline
from infra.seed import Seed
from infra.spend import StackSpend
from infra.storage import Storage
from infra.streaming import Streaming


class MecRouteStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = AppConfig.from_context(self.node)
        storage = Storage(self, "Storage")
        layers = Layers(self, "Layers")
        streaming = Streaming(
            self,
            "Streaming",
            layers=layers,
            stats_table=storage.tables["stats_table"],
            data_lake=storage.data_lake,
            log_retention=config.log_retention,
        )
        fleet = (
            MecFleet(
                self,
                "MecFleet",
                config=config,
                artifacts=storage.artifacts,
                models_table=storage.tables["models_table"],
                nodes_table=storage.tables["nodes_table"],
            )
            if config.deploy_fleet
            else None
        )
        gateways = (
            EdgeGateways(
                self,
                "EdgeGateways",
                config=config,
                fleet=fleet,
                artifacts=storage.artifacts,
                tables={**storage.tables, "api_keys_table": storage.api_keys_table},
                metrics_stream=streaming.metrics_stream,
            )
            if fleet
            else None
        )
        seed = Seed(
            self,
            "Seed",
            artifacts=storage.artifacts,
            models_table=storage.tables["models_table"],
            log_retention=config.log_retention,
        )
        pipeline = Pipeline(self, "Pipeline", log_retention=config.log_retention)
        agents = Agents(
            self,
            "Agents",
            config=config,
            layers=layers,
            storage=storage,
            streaming=streaming,
            network=fleet.agent_network if fleet else None,
            record_dead_letters=pipeline.record_dead_letters,
        )
        deployments = Deployments(self, "Deployments", config=config, functions=agents.functions)
        pipeline.orchestrate(agents, deployments.aliases)
        deployments.version_state_machine(pipeline.state_machine)
        api = Api(
            self,
            "Api",
            config=config,
            state_machine=pipeline.state_machine,
            layers=layers,
            storage=storage,
            streaming=streaming,
        )
        observability = Observability(
            self,
            "Observability",
            config=config,
            state_machine=pipeline.state_machine,
            rest_api=api.rest_api,
            dead_letters=streaming.dead_letters,
            record_dead_letters=pipeline.record_dead_letters,
            functions={
                **agents.functions,
                "aggregator": streaming.aggregator,
                "api-reads": api.reads,
                "api-feedback": api.feedback,
            },
            fleet_services=fleet.services if fleet else {},
            cluster=fleet.cluster if fleet else None,
        )
        spend = StackSpend(
            self,
            "Spend",
            config=config,
            topic=observability.topic,
            topic_key=observability.topic_key,
            execute_logs=agents.functions["execute"].log_group,
        )
        observability.dashboard.add_widgets(spend.widget)
        for alarm in [*(gateways.alarms if gateways else []), *deployments.alarms]:
            alarm.add_alarm_action(actions.SnsAction(observability.topic))
            alarm.add_ok_action(actions.SnsAction(observability.topic))
        Aspects.of(self).add(CheckovFindings(config.lambda_reserved_concurrency))
        acknowledge_findings(
            self, config=config, storage=storage, streaming=streaming, agents=agents,
            pipeline=pipeline, api=api, fleet=fleet, seed=seed, gateways=gateways,
        )  # fmt: skip

        self.config = config
        self.state_machine = pipeline.state_machine
        CfnOutput(self, "ApiUrl", value=api.rest_api.url_for_path("/v1"))
        CfnOutput(self, "StateMachineArn", value=pipeline.state_machine.state_machine_arn)
        CfnOutput(self, "DashboardName", value=observability.dashboard.dashboard_name)
        CfnOutput(self, "AlarmTopicArn", value=observability.topic.topic_arn)
        CfnOutput(self, "ArtifactsBucket", value=storage.artifacts.bucket_name)
        CfnOutput(self, "DataLakeBucket", value=storage.data_lake.bucket_name)
