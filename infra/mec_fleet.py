"""The simulated MEC fleet: one Fargate service per site, each task a node of its own.

Each service runs the MEC node image (`docker/mec-node/Dockerfile`, built by `cdk deploy`,
never by `cdk synth`) with its site's profile, in private subnets only the agents' security
group can reach. Each task registers itself in the nodes table as `<site>-<task id>` at its own
address (so a model the cache agent loads on a task is served by that task, and the router sees
every task's load), then heartbeats; its role may write only its site's items (LeadingKeys). It
answers only requests signed with its site's keys (infra/node_keys.py, docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from infra.agents import AgentNetwork
from infra.common import callers_and_service, log_group
from infra.config import MEC_NODE_PORT, AppConfig, MecSite
from infra.fargate import arm64_task, health_check, private_service
from infra.grants import grant_table
from infra.node_keys import NodeKeys
from mecroute.domain.node_auth import SCOPES
from mecroute.mec.zoo import CATALOGUE, artifact_key

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "docker/mec-node/Dockerfile"
# The build context is the repository root; its .dockerignore (owned with the Dockerfile)
# admits only what the image copies. CDK stages the context through that file and re-admits
# only a Dockerfile at the root, so this one is re-admitted by path, or `cdk deploy` would
# build from a staged context without it.
IMAGE_CONTEXT_EXCLUDES = [f"!{DOCKERFILE}"]

# The node listens on every interface inside its task; the security group lets only the
# agents in (tests/infra: test_nodes_accept_traffic_only_from_the_agents).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104


class MecFleet(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        artifacts: s3.IBucket,
        models_table: dynamodb.ITableV2,
        nodes_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        flow_logs = log_group(self, "FlowLogs", config.log_retention)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            # DynamoDB and S3 traffic stays off the NAT gateway (and its per-GB charge).
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        agents = ("AgentsSecurityGroup", "Agents that call MEC nodes (resource, cache, execute)")
        nodes = ("NodesSecurityGroup", "MEC nodes: HTTP from the agents only")
        self.agents_security_group, self.nodes_security_group = callers_and_service(
            self, self.vpc, agents, nodes, MEC_NODE_PORT, "agents call the node API"
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=f"mecroute-{config.stage}.internal",
            vpc=self.vpc,
            description="MEC nodes, one A record per site",
        )
        self.image = ecr_assets.DockerImageAsset(
            self,
            "NodeImage",
            directory=str(ROOT),
            file=DOCKERFILE,
            platform=ecr_assets.Platform.LINUX_ARM64,
            exclude=IMAGE_CONTEXT_EXCLUDES,
        )
        self.keys = NodeKeys(
            self, "NodeKeys", sites=[site.node_id for site in config.mec_sites], stage=config.stage
        )
        self.node_logs = log_group(self, "NodeLogs", config.log_retention)
        self.services: dict[str, ecs.FargateService] = {}
        self.task_definitions: dict[str, ecs.FargateTaskDefinition] = {}
        for site in config.mec_sites:
            self.services[site.node_id] = self._site_service(
                site, artifacts, models_table, nodes_table
            )

    @property
    def agent_network(self) -> AgentNetwork:
        return AgentNetwork(
            vpc=self.vpc,
            security_group=self.agents_security_group,
            node_keys=self.keys,
            node_networks=self.node_networks,
        )

    @property
    def node_networks(self) -> str:
        """Where node endpoints may be (MEC_NODE_NETWORKS): task addresses in the VPC, and
        names in the fleet's namespace."""
        return f"{self.vpc.vpc_cidr_block},.{self.namespace.namespace_name}"

    def _site_service(
        self,
        site: MecSite,
        artifacts: s3.IBucket,
        models_table: dynamodb.ITableV2,
        nodes_table: dynamodb.ITableV2,
    ) -> ecs.FargateService:
        construct_id = "".join(part.capitalize() for part in site.node_id.split("-"))
        task = arm64_task(self, f"{construct_id}Task", site.cpu, site.memory_mib)
        self.task_definitions[site.node_id] = task
        # The node fetches zoo artifacts by key (sha256-checked), looks models up in the
        # registry, and writes its own record and heartbeats (mecroute.mec.heartbeat).
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[artifacts.arn_for_objects(artifact_key(e)) for e in CATALOGUE],
            )
        )
        grant_table(models_table, task.task_role, "dynamodb:Scan")
        # Its own items only: the site's id, or a task of the site (`<site>-<task id>`).
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem"],
                resources=[nodes_table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [site.node_id, f"{site.node_id}-*"]
                    }
                },
            )
        )
        self.keys.grant_read(task.task_role, "infer", "control", site=site.node_id)
        task.add_container(
            "Node",
            image=ecs.ContainerImage.from_docker_image_asset(self.image),
            # The image's entry point runs `mecroute.mec.node`, which reads all of this
            # (`mecroute node --help`); nothing here is secret.
            environment={
                "MEC_PROFILE": site.site,
                "MEC_NODE_ID": site.node_id,
                "MEC_HOST": ALL_INTERFACES,
                "MEC_PORT": str(MEC_NODE_PORT),
                "MEC_SLOTS": str(site.slots),
                "MEC_QUEUE_LIMIT": str(site.queue_limit),
                "MEC_SPEED_FACTOR": str(site.speed_factor),
                "MEC_SITE_RTT_MS": str(site.site_rtt_ms),
                "MEC_MEMORY_BUDGET_MB": str(site.memory_budget_mb),
                "MEC_PRELOAD": ",".join(site.preload),
                "ARTIFACTS_BUCKET": artifacts.bucket_name,
                "MODELS_TABLE": models_table.table_name,
                "NODES_TABLE": nodes_table.table_name,
                # Secret names, not keys: the node reads its site's two keys at start.
                **self.keys.environment(self.node_networks, *SCOPES, site=site.node_id),
            },
            port_mappings=[ecs.PortMapping(container_port=MEC_NODE_PORT)],
            logging=ecs.LogDriver.aws_logs(stream_prefix=site.node_id, log_group=self.node_logs),
            health_check=health_check(MEC_NODE_PORT, "/livez"),
            # SIGTERM drains in-flight requests and writes a last heartbeat before exiting.
            stop_timeout=Duration.seconds(60),
        )
        return private_service(
            self,
            f"{construct_id}Service",
            cluster=self.cluster,
            task=task,
            security_group=self.nodes_security_group,
            name=site.node_id,
            namespace=self.namespace,
            max_tasks=site.max_tasks,
        )
