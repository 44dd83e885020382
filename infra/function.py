"""One Python Lambda the way every function in this app is built: arm64, Python 3.14, traced,
its own role with no managed policy but the grants its manifest entry names, its own log group,
and exactly the environment its settings model reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from pydantic_core import PydanticUndefined

from infra.common import lambda_identity
from infra.grants import Target, grant_access
from mecroute.lambda_support.manifest import Function
from mecroute.lambda_support.observability import NAMESPACE, SERVICE
from mecroute.lambda_support.settings import AgentSettings

# What Lambda needs to attach a function to a VPC; EC2 offers no resource-level scoping for
# the Describe calls, and the ENI ids do not exist before the function does.
VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


class MissingEnvironment(ValueError):
    """A function's settings model needs a variable the stack does not provide."""


def settings_environment(
    settings: type[AgentSettings], available: Mapping[str, str]
) -> dict[str, str]:
    """The variables `settings.from_env()` reads, taken from what the stack provides.

    A required setting the stack cannot provide fails the synth, rather than the first
    invocation after a deployment.
    """
    environment = {}
    for name, field in settings.model_fields.items():
        variable = name.upper()
        if variable in available:
            environment[variable] = available[variable]
        elif field.default is PydanticUndefined and field.default_factory is None:
            raise MissingEnvironment(f"{settings.__name__} needs {variable}")
    return environment


class PythonFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: Function,
        targets: Mapping[str, Target],
        available_environment: Mapping[str, str],
        layers: Sequence[lambda_.ILayerVersion],
        log_retention: logs.RetentionDays,
        timeout: Duration,
        vpc: ec2.IVpc | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group, self.role = lambda_identity(
            self,
            "",
            log_retention,
            description=f"{spec.name} function: its log group plus its manifest's grants",
        )
        grant_access(self.role, spec, targets)
        if vpc is not None:
            self.role.add_to_policy(
                iam.PolicyStatement(actions=VPC_ACCESS_ACTIONS, resources=["*"])
            )
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(spec.source)),
            layers=list(layers),
            memory_size=spec.memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                **settings_environment(spec.settings, available_environment),
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            },
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            if vpc is not None
            else None,
            security_groups=list(security_groups) if vpc is not None else None,
        )
