"""One edge gateway service per MEC site (issue 13), beside the site's nodes in the fleet's
cluster: the node image running `mecroute gateway --site NAME`, reachable by the site's clients
at its Cloud Map name, allowed to read the snapshot tables and bucket and to write records and
the stream, nothing else; alarms on its record queue's depth and its snapshot's age.

In a real MEC deployment the same service runs in an AWS Wavelength Zone or Local Zone subnet
(or a telco's own site) beside the nodes; here every site shares the region's VPC.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.common import callers_and_service
from infra.config import MEC_NODE_PORT, AppConfig
from infra.fargate import arm64_task, health_check, private_service
from infra.grants import converse_on, grant_table
from infra.mec_fleet import ALL_INTERFACES, MecFleet
from mecroute.gateway.metrics import INTERVAL_S, NAMESPACE
from mecroute.gateway.shipper import FLUSH_TIMEOUT_S
from mecroute.mec.zoo import CATALOGUE, artifact_key

GATEWAY_PORT = 8090
# The task's own ephemeral storage, not a shared /tmp.
QUEUE_DIR = "/tmp/mecroute-gateway"  # noqa: S108  # nosec B108
QUEUE_DEPTH_ALARM = 1000  # records waiting for the region
SNAPSHOT_AGE_ALARM_S = 60  # the region unread for this long: decisions are stale
# Scale out past this many requests a second per task (issue 13's budget is 300 on 2 vCPU; this
# task has 1): each task reports its count every INTERVAL_S, so the metric's average over the
# site's tasks is requests per task per report. Without a load balancer (Cloud Map names the
# tasks; a Wavelength or telco site brings its own) there is no ALBRequestCountPerTarget.
REQUESTS_PER_TASK_PER_S = 100


class EdgeGateways(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        fleet: MecFleet,
        artifacts: s3.IBucket,
        tables: dict[str, dynamodb.ITableV2],
        metrics_stream: kinesis.IStream,
    ) -> None:
        super().__init__(scope, construct_id)
        # What the site's clients (or the load balancer in front of them) wear to be let in.
        clients = ("ClientsSecurityGroup", "Clients of the MEC sites edge gateways")
        gateways = ("SecurityGroup", "Edge gateways: HTTP from the site clients only")
        self.clients_security_group, self.security_group = callers_and_service(
            self, fleet.vpc, clients, gateways, GATEWAY_PORT, "the site clients call the gateway"
        )
        fleet.nodes_security_group.add_ingress_rule(
            self.security_group, ec2.Port.tcp(MEC_NODE_PORT), "gateways call their site's nodes"
        )
        self.services: dict[str, ecs.FargateService] = {}
        self.task_definitions: dict[str, ecs.FargateTaskDefinition] = {}
        self.alarms: list[cloudwatch.Alarm] = []
        for site in sorted({s.site for s in config.mec_sites}):
            self.services[site] = self._site_gateway(
                site, config, fleet, artifacts, tables, metrics_stream
            )

    def endpoint(self, fleet: MecFleet, site: str) -> str:
        return f"http://gateway-{site}.{fleet.namespace.namespace_name}:{GATEWAY_PORT}"

    def _site_gateway(
        self,
        site: str,
        config: AppConfig,
        fleet: MecFleet,
        artifacts: s3.IBucket,
        tables: dict[str, dynamodb.ITableV2],
        metrics_stream: kinesis.IStream,
    ) -> ecs.FargateService:
        construct_id = "".join(part.capitalize() for part in site.split("-"))
        task = arm64_task(self, f"{construct_id}Task", 1024, 2048)
        self.task_definitions[site] = task
        role = task.task_role
        # The snapshot: registry, nodes and learned statistics (Scan, as the agents read them).
        for name in ("models_table", "nodes_table", "stats_table", "api_keys_table"):
            grant_table(tables[name], role, "dynamodb:Scan")
        # Records: batched decision records and their stream events.
        grant_table(tables["decisions_table"], role, "dynamodb:BatchWriteItem")
        # Callers' budgets hold at the edge as in the region: read, reserve and settle (the
        # spend ledger's conditional UpdateItems on the caller's usage item).
        grant_table(tables["usage_table"], role, "dynamodb:GetItem", "dynamodb:UpdateItem")
        metrics_stream.grant_write(role)
        # Inference on its site's nodes (and the others' it falls back to): the infer keys only.
        fleet.keys.grant_read(role, "infer")
        # Device and simulated-cloud models, fetched by key and sha256-checked.
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[artifacts.arn_for_objects(artifact_key(e)) for e in CATALOGUE],
            )
        )
        if config.cloud_provider == "bedrock":  # the cloud tier, called from the site
            task.add_to_task_role_policy(converse_on(self, config.bedrock_model_id))
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
            )
        )
        task.add_container(
            "Gateway",
            image=ecs.ContainerImage.from_docker_image_asset(fleet.image),
            # Two processes: the HTTP service, and the record shipper it starts as its child
            # (at a lower priority, on the same queue file) and stops on SIGTERM.
            command=["mecroute", "gateway"],
            environment={
                "MEC_SITE": site,
                "GATEWAY_HOST": ALL_INTERFACES,
                "GATEWAY_PORT": str(GATEWAY_PORT),
                "GATEWAY_METRICS": "cloudwatch",
                "QUEUE_DIR": QUEUE_DIR,
                "ARTIFACTS_BUCKET": artifacts.bucket_name,
                "METRICS_STREAM": metrics_stream.stream_name,
                "CLOUD_PROVIDER": config.cloud_provider,
                "BEDROCK_MODEL_ID": config.bedrock_model_id,
                **{
                    name.upper(): tables[name].table_name
                    for name in (
                        "models_table",
                        "nodes_table",
                        "stats_table",
                        "decisions_table",
                        "api_keys_table",  # its callers' keys (identity, per-caller limits)
                        "usage_table",  # its callers' spend against their budgets
                    )
                },
                **fleet.keys.environment(fleet.node_networks, "infer"),
            },
            port_mappings=[ecs.PortMapping(container_port=GATEWAY_PORT)],
            logging=ecs.LogDriver.aws_logs(
                stream_prefix=f"gateway-{site}", log_group=fleet.node_logs
            ),
            health_check=health_check(GATEWAY_PORT),
            # SIGTERM: stop accepting, answer what was accepted, let the shipper process ship
            # the queued records (FLUSH_TIMEOUT_S), then exit; ECS kills it only after this.
            stop_timeout=Duration.seconds(FLUSH_TIMEOUT_S + 10),
        )
        service = private_service(
            self,
            f"{construct_id}Service",
            cluster=fleet.cluster,
            task=task,
            security_group=self.security_group,
            name=f"gateway-{site}",
            namespace=fleet.namespace,
            max_tasks=4,
            requests_per_task=(
                self._metric(site, "Requests", "Average", Duration.minutes(1)),
                REQUESTS_PER_TASK_PER_S * INTERVAL_S,
            ),
        )
        self.alarms += [
            self._alarm(construct_id, site, "QueueDepth", QUEUE_DEPTH_ALARM,
                        "records wait for the region: it is unreachable or refusing writes"),
            self._alarm(construct_id, site, "SnapshotAgeSeconds", SNAPSHOT_AGE_ALARM_S,
                        "the gateway has not read the region: its decisions are stale"),
        ]  # fmt: skip
        return service

    def _alarm(
        self, construct_id: str, site: str, metric_name: str, threshold: float, why: str
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            f"{construct_id}{metric_name}Alarm",
            metric=self._metric(site, metric_name, "Maximum", Duration.minutes(1)),
            threshold=threshold,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # No data: the gateway itself is down, which its service's health check reports.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Edge gateway {site}: {why}",
        )

    @staticmethod
    def _metric(site: str, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"Site": site},
            statistic=statistic,
            period=period,
        )
