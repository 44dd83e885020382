"""The agents and the Express state machine built from the ASL file that also runs offline."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
ASL_FILE = ROOT / "statemachines" / "inference_pipeline.asl.json"
AGENTS = ("context", "resource", "router", "cache", "execute", "monitor")


class Pipeline(Construct):
    """One Lambda per agent and the state machine that orchestrates them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared_layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        for agent in AGENTS:
            log_group = logs.LogGroup(self, f"{agent.capitalize()}Logs", retention=log_retention)
            self.functions[agent] = lambda_.Function(
                self,
                f"{agent.capitalize()}Agent",
                runtime=lambda_.Runtime.PYTHON_3_14,
                architecture=lambda_.Architecture.ARM_64,
                handler="handler.handler",
                code=lambda_.Code.from_asset(str(ROOT / "lambdas" / agent)),
                layers=[shared_layer],
                memory_size=1024 if agent == "execute" else 512,
                timeout=Duration.seconds(60 if agent == "execute" else 15),
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                environment={**environment, "POWERTOOLS_SERVICE_NAME": "mecroute"},
            )
        pipeline_logs = logs.LogGroup(self, "PipelineLogs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "InferencePipeline",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_FILE)),
            definition_substitutions={
                f"{agent.capitalize()}FunctionArn": fn.function_arn
                for agent, fn in self.functions.items()
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=pipeline_logs, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        for fn in self.functions.values():
            fn.grant_invoke(self.state_machine)
