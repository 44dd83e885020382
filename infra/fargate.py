"""What the MEC nodes and the edge gateways share on ECS: an arm64 task, a container health
check on /health, and a private service named in Cloud Map that scales on CPU."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

CPU_TARGET_PERCENT = 60


def arm64_task(
    scope: Construct, construct_id: str, cpu: int, memory_mib: int
) -> ecs.FargateTaskDefinition:
    return ecs.FargateTaskDefinition(
        scope,
        construct_id,
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )


def health_check(port: int, path: str = "/health") -> ecs.HealthCheck:
    command = (
        'python -c "import urllib.request; '
        f"urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2)\""
    )
    return ecs.HealthCheck(
        command=["CMD-SHELL", command],
        interval=Duration.seconds(15),
        timeout=Duration.seconds(5),
        retries=3,
        start_period=Duration.seconds(30),
    )


def private_service(
    scope: Construct,
    construct_id: str,
    *,
    cluster: ecs.ICluster,
    task: ecs.FargateTaskDefinition,
    security_group: ec2.ISecurityGroup,
    name: str,
    namespace: servicediscovery.INamespace,
    max_tasks: int,
    requests_per_task: tuple[cloudwatch.IMetric, float] | None = None,
) -> ecs.FargateService:
    """A service in the private subnets, named in Cloud Map, scaled on CPU; and, given
    `requests_per_task` (a metric whose average over tasks is each task's request count, and
    its target), on request count too: the scaling policy that asks for more tasks wins."""
    service = ecs.FargateService(
        scope,
        construct_id,
        cluster=cluster,
        task_definition=task,
        desired_count=1,
        min_healthy_percent=100,
        max_healthy_percent=200,
        assign_public_ip=False,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        security_groups=[security_group],
        circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        cloud_map_options=ecs.CloudMapOptions(
            name=name,
            cloud_map_namespace=namespace,
            dns_record_type=servicediscovery.DnsRecordType.A,
            dns_ttl=Duration.seconds(10),
        ),
    )
    scaling = service.auto_scale_task_count(min_capacity=1, max_capacity=max_tasks)
    scaling.scale_on_cpu_utilization(
        "ScaleOnCpu",
        target_utilization_percent=CPU_TARGET_PERCENT,
        scale_out_cooldown=Duration.seconds(60),
        scale_in_cooldown=Duration.seconds(300),
    )
    if requests_per_task is not None:
        metric, target = requests_per_task
        scaling.scale_to_track_custom_metric(
            "ScaleOnRequests",
            metric=metric,
            target_value=target,
            scale_out_cooldown=Duration.seconds(60),
            scale_in_cooldown=Duration.seconds(300),
        )
    return service
