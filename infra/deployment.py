"""Canary deployments rolled back by alarms (docs/deploy.md).

Each pipeline agent is published as a version behind a `live` alias, which is what the state
machine invokes; CodeDeploy shifts the alias to a new version by the configured canary (10%
for 5 minutes by default), and rolls it back when the new version's error-rate or duration
alarm fires. The state machine is published as a version behind its own `live` alias, shifted
by Step Functions' own canary deployment preference with the pipeline's failure alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.common import threshold_alarm
from infra.config import AppConfig
from infra.function import PythonFunction
from infra.nag import acknowledge

ALIAS = "live"
_Config = codedeploy.LambdaDeploymentConfig
DEPLOYMENT_CONFIGS: Mapping[str, codedeploy.ILambdaDeploymentConfig] = {
    "Canary10Percent5Minutes": _Config.CANARY_10_PERCENT_5_MINUTES,
    "Canary10Percent10Minutes": _Config.CANARY_10_PERCENT_10_MINUTES,
    "Linear10PercentEvery1Minute": _Config.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    "AllAtOnce": _Config.ALL_AT_ONCE,
}
# The state machine alias's own deployment preference: (type, percentage, minutes).
STATE_MACHINE_PREFERENCES: Mapping[str, tuple[str, int | None, int | None]] = {
    "Canary10Percent5Minutes": ("CANARY", 10, 5),
    "Canary10Percent10Minutes": ("CANARY", 10, 10),
    "Linear10PercentEvery1Minute": ("LINEAR", 10, 1),
    "AllAtOnce": ("ALL_AT_ONCE", None, None),
}
# A new version fails its canary when this share of its invocations errs (over at least
# MIN_INVOCATIONS a minute): the execute agent raises on every failed node call by design, so
# a single error is no reason to roll back.
MIN_INVOCATIONS = 5


class Deployments(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        functions: Mapping[str, PythonFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.aliases: dict[str, lambda_.Alias] = {}
        self.groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}
        self.alarms: list[cloudwatch.Alarm] = []
        # One service role for every deployment group: CodeDeploy attaches AWS's policy for
        # shifting Lambda aliases to it.
        self.role = iam.Role(
            self,
            "CodeDeployRole",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            description="CodeDeploy: shifts the agents' live aliases and reads their alarms",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSCodeDeployRoleForLambdaLimited]",
            "AWS's own minimal policy for CodeDeploy Lambda deployments (get and update aliases, "
            "read alarms, invoke only functions named CodeDeployHook_*), which the deployment "
            "group attaches itself; it grants nothing on data.",
        )
        self.application = codedeploy.LambdaApplication(self, "Agents")
        for name, built in functions.items():
            self._canary(name, built)

    def _canary(self, name: str, built: PythonFunction) -> None:
        title = name.capitalize()
        version = built.function.current_version
        alias = lambda_.Alias(self, f"{title}Live", alias_name=ALIAS, version=version)
        errors = self._alarm(
            f"{title}CanaryErrors",
            cloudwatch.MathExpression(
                expression=f"IF(invocations >= {MIN_INVOCATIONS}, 100 * errors / invocations, 0)",
                using_metrics={
                    "errors": version.metric_errors(statistic="Sum"),
                    "invocations": version.metric_invocations(statistic="Sum"),
                },
                period=Duration.minutes(1),
                label=f"{name} new version error rate (%)",
            ),
            self.config.canary_error_rate_pct,
            f"{name} agent: the deployed version fails {self.config.canary_error_rate_pct:g}% or "
            "more of its invocations; CodeDeploy rolls the canary back",
        )
        timeout_ms = built.function.timeout.to_milliseconds() if built.function.timeout else 0
        slow = self._alarm(
            f"{title}CanaryDuration",
            version.metric_duration(statistic="p99", period=Duration.minutes(1)),
            0.8 * timeout_ms,
            f"{name} agent: the deployed version's p99 duration reaches 80% of its timeout; "
            "CodeDeploy rolls the canary back",
        )
        self.aliases[name] = alias
        self.groups[name] = codedeploy.LambdaDeploymentGroup(
            self,
            f"{title}Deployment",
            alias=alias,
            application=self.application,
            role=self.role,
            deployment_config=DEPLOYMENT_CONFIGS[self.config.deployment_config],
            alarms=[errors, slow],
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        alarm = threshold_alarm(
            self, construct_id, metric, threshold=threshold, description=description
        )
        self.alarms.append(alarm)
        return alarm

    def version_state_machine(self, state_machine: sfn.StateMachine) -> sfn.CfnStateMachineAlias:
        """Publish the state machine's current revision and point its `live` alias at it, by
        canary, rolled back when the failed-executions alarm fires."""
        version = sfn.CfnStateMachineVersion(
            self,
            "PipelineVersion",
            state_machine_arn=state_machine.state_machine_arn,
            state_machine_revision_id=state_machine.state_machine_revision_id,
            description="The pipeline as this deployment defined it",
        )
        failing = self._alarm(
            "PipelineCanaryFailures",
            state_machine.metric_failed(statistic="Sum", period=Duration.minutes(1)),
            self.config.canary_pipeline_failures,
            "pipeline: executions failing during a state machine deployment; Step Functions "
            "rolls its alias back",
        )
        kind, percentage, minutes = STATE_MACHINE_PREFERENCES[self.config.deployment_config]
        preference = sfn.CfnStateMachineAlias.DeploymentPreferenceProperty(
            state_machine_version_arn=version.attr_arn,
            type=kind,
            percentage=percentage,
            interval=minutes,
            alarms=[failing.alarm_name],
        )
        return sfn.CfnStateMachineAlias(
            self,
            "PipelineLive",
            name=ALIAS,
            description="What the API starts: the published pipeline version, shifted by canary",
            deployment_preference=preference,
        )
