"""What a person on call looks at: one dashboard and the alarms that page them.

The pipeline's own metrics come from the agents' embedded metric format, namespace MecRoute,
dimension `service` (and `Tier` for per-tier figures): see lambdas/monitor/handler.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.common import threshold_alarm
from infra.config import AppConfig
from infra.function import PythonFunction
from mecroute.domain.registry import TIERS
from mecroute.lambda_support.observability import NAMESPACE, SERVICE

FIVE_MINUTES = Duration.minutes(5)


def pipeline_metric(
    name: str, statistic: str = "Sum", tier: str | None = None, period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    dimensions = {"service": SERVICE, **({"Tier": tier} if tier else {})}
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
        label=f"{name} {tier}" if tier else name,
    )


def routing_overhead(statistic: str) -> cloudwatch.MathExpression:
    """The states' own time per request at `statistic`, the worst of the three tiers."""
    # Ids unique across the graph that shows p50 and p95 side by side.
    per_tier: dict[str, cloudwatch.IMetric] = {
        f"{tier}_{statistic}": pipeline_metric("RoutingOverhead", statistic, tier) for tier in TIERS
    }
    return cloudwatch.MathExpression(
        expression=f"MAX([{', '.join(per_tier)}])",
        using_metrics=per_tier,
        label=f"Routing overhead {statistic}",
        period=FIVE_MINUTES,
    )


def stacked_per_tier(title: str, name: str) -> cloudwatch.GraphWidget:
    """A third-width graph of the pipeline metric `name`, one stacked series per tier."""
    return cloudwatch.GraphWidget(
        title=title,
        left=[pipeline_metric(name, tier=tier) for tier in TIERS],
        stacked=True,
        width=8,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        state_machine: sfn.StateMachine,
        rest_api: apigateway.RestApi,
        dead_letters: sqs.IQueue,
        record_dead_letters: sqs.IQueue,
        functions: Mapping[str, PythonFunction],
        fleet_services: Mapping[str, ecs.FargateService],
        cluster: ecs.ICluster | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch can publish to an encrypted topic only with a key whose policy lets it.
        self.topic_key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the mecroute alarm topic",
            enable_key_rotation=True,
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"mecroute {config.stage} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        self._pipeline_alarms(config, state_machine)
        self._fleet_alarms(config, fleet_services, cluster)
        self._add_alarm(
            "DeadLettersWaiting",
            dead_letters.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            threshold=1,
            description="Stream records the aggregator gave up on are waiting in the DLQ",
        )
        self._add_alarm(
            "RecordDeadLettersWaiting",
            record_dead_letters.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            threshold=1,
            description="Decision records the pipeline could not store wait for redrive "
            "(python -m mecroute.ops.redrive, docs/reliability.md)",
        )
        self._add_alarm(
            "ApiServerErrors",
            rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            threshold=5,
            description="The API answered 5XX (gateway or pipeline failures) 5+ times in 5 min",
        )
        self.dashboard = self._dashboard(
            config,
            state_machine,
            rest_api,
            (dead_letters, record_dead_letters),
            functions,
            fleet_services,
            cluster,
        )

    def _add_alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, **settings: Any
    ) -> cloudwatch.Alarm:
        """`common.threshold_alarm` (same settings), notifying the alarm topic both ways."""
        alarm = threshold_alarm(self, construct_id, metric, **settings)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def _pipeline_alarms(self, config: AppConfig, state_machine: sfn.StateMachine) -> None:
        # Invalid requests and requests nothing may serve fail by design (400, 422); what
        # remains are executions no candidate could serve (503), crashes and timeouts.
        unexpected = cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedOut, 0) - FILL(rejected, 0) - FILL(noRoute, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(period=FIVE_MINUTES),
                "timedOut": state_machine.metric_timed_out(period=FIVE_MINUTES),
                "rejected": pipeline_metric("Rejections"),
                "noRoute": pipeline_metric("NoFeasibleRoute"),
            },
            label="Unexpected failed executions",
            period=FIVE_MINUTES,
        )
        self._add_alarm(
            "UnexpectedFailedExecutions",
            unexpected,
            threshold=1,
            description="Pipeline executions failed for reasons other than the request itself",
        )
        for tier in TIERS:
            sla_ms = config.alarm_latency_sla_ms[tier]
            self._add_alarm(
                f"{tier.capitalize()}LatencyOverSla",
                pipeline_metric("Latency", "p99", tier),
                threshold=sla_ms,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                description=f"p99 {tier} latency above its {sla_ms:g} ms SLA in 3 of 5 periods",
            )

        overhead = routing_overhead("p95")
        threshold = config.alarm_routing_overhead_p95_ms
        self._add_alarm(
            "RoutingOverheadHigh",
            overhead,
            threshold=threshold,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            description=f"p95 routing overhead (the states' own time) above {threshold:g} ms "
            "in 3 of 5 periods",
        )

    def _fleet_alarms(
        self,
        config: AppConfig,
        services: Mapping[str, ecs.FargateService],
        cluster: ecs.ICluster | None,
    ) -> None:
        if not services or cluster is None:
            return
        # The resource agent reports how many nodes answered its health probes; only while
        # requests flow, hence missing data is not a breach here...
        self._add_alarm(
            "MecNodesMissingHeartbeats",
            pipeline_metric("HealthyMecNodes", "Minimum"),
            threshold=len(services),
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            description="Fewer MEC nodes answered health probes than there are sites",
        )
        # ...while Container Insights reports every minute: silence means no task at all.
        for node_id, service in services.items():
            running = cloudwatch.Metric(
                namespace="ECS/ContainerInsights",
                metric_name="RunningTaskCount",
                dimensions_map={
                    "ClusterName": cluster.cluster_name,
                    "ServiceName": service.service_name,
                },
                statistic="Minimum",
                period=Duration.minutes(1),
            )
            self._add_alarm(
                f"{''.join(p.capitalize() for p in node_id.split('-'))}NotRunning",
                running,
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"MEC node {node_id} has had no running task for 3 minutes",
            )

    def _dashboard(
        self,
        config: AppConfig,
        state_machine: sfn.StateMachine,
        rest_api: apigateway.RestApi,
        dead_letter_queues: tuple[sqs.IQueue, sqs.IQueue],
        functions: Mapping[str, PythonFunction],
        services: Mapping[str, ecs.FargateService],
        cluster: ecs.ICluster | None,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"mecroute-{config.stage}",
            default_interval=Duration.hours(3),
        )
        sla_attainment = [
            cloudwatch.MathExpression(
                expression=f"100 * met{tier} / requests{tier}",
                using_metrics={
                    f"met{tier}": pipeline_metric("SlaMet", tier=tier),
                    f"requests{tier}": pipeline_metric("Requests", tier=tier),
                },
                label=f"{tier} SLA met %",
                period=FIVE_MINUTES,
            )
            for tier in TIERS
        ]
        dashboard.add_widgets(
            stacked_per_tier("Requests per tier", "Requests"),
            cloudwatch.GraphWidget(
                title="SLA attainment per tier (%)",
                left=sla_attainment,
                left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Fallbacks and errors",
                left=[
                    pipeline_metric(name)
                    for name in ("Fallbacks", "Failures", "Rejections", "NoFeasibleRoute")
                ],
                right=[
                    state_machine.metric_failed(period=FIVE_MINUTES),
                    state_machine.metric_timed_out(period=FIVE_MINUTES),
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{tier} latency vs SLA (ms)",
                    left=[pipeline_metric("Latency", stat, tier) for stat in ("p50", "p99")],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(
                            value=config.alarm_latency_sla_ms[tier], label="SLA"
                        )
                    ],
                    width=8,
                )
                for tier in TIERS
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Routing overhead: the states' own time (ms)",
                left=[routing_overhead(stat) for stat in ("p50", "p95")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=config.alarm_routing_overhead_p95_ms, label="p95 alarm"
                    )
                ],
                width=8,
            ),
            stacked_per_tier("Estimated cost per tier (USD)", "CostUsd"),
            cloudwatch.SingleValueWidget(
                title="Estimated cost over the range (USD)",
                metrics=[pipeline_metric("CostUsd", tier=tier) for tier in TIERS],
                set_period_to_time_range=True,
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="API",
                left=[
                    rest_api.metric_count(period=FIVE_MINUTES),
                    rest_api.metric_client_error(period=FIVE_MINUTES),
                    rest_api.metric_server_error(period=FIVE_MINUTES),
                ],
                right=[rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99")],
                width=8,
            ),
        )
        fleet_metrics: list[cloudwatch.IMetric] = [
            pipeline_metric("HealthyMecNodes", "Minimum"),
        ]
        if cluster is not None:
            fleet_metrics += [
                service.metric_cpu_utilization(period=FIVE_MINUTES) for service in services.values()
            ]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[
                    fn.function.metric_errors(period=FIVE_MINUTES, label=name)
                    for name, fn in functions.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="MEC fleet: healthy nodes, CPU %", left=fleet_metrics, width=8
            ),
            cloudwatch.GraphWidget(
                title="Dead letters: aggregator stream records, decision records",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label=label
                    )
                    for queue, label in zip(
                        dead_letter_queues, ("aggregator", "records"), strict=True
                    )
                ],
                width=8,
            ),
        )
        return dashboard
