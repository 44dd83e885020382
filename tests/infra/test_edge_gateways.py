"""The edge gateways in the synthesised template (issue 13): one Fargate service per MEC site,
least-privilege task roles, alarms on queue depth and snapshot age that page the topic."""

from __future__ import annotations

import json
from typing import Any

from infra.config import AppConfig, cdk_json_context
from infra.edge_gateways import REQUESTS_PER_TASK_PER_S
from infra_synthesis import Synthesis

from mecroute.gateway.metrics import INTERVAL_S
from mecroute.gateway.shipper import FLUSH_TIMEOUT_S

CONFIG = AppConfig.model_validate(cdk_json_context())
SITES = {site.site for site in CONFIG.mec_sites}


def gateways(resources: dict[str, Any]) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if name.startswith("EdgeGateways")}


def test_one_gateway_service_per_site_in_cloud_map(synthesis: Synthesis):
    services = gateways(synthesis.of_type("AWS::ECS::Service"))
    names = {
        s["Properties"]["Name"]
        for s in gateways(synthesis.of_type("AWS::ServiceDiscovery::Service")).values()
    }

    assert len(services) == len(SITES)
    assert names == {f"gateway-{site}" for site in SITES}
    for service in services.values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"


def test_each_gateway_runs_the_gateway_command_for_its_site(synthesis: Synthesis):
    tasks = gateways(synthesis.of_type("AWS::ECS::TaskDefinition")).values()
    seen = set()
    for task in tasks:
        (container,) = task["Properties"]["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        # One command, two processes: the HTTP service and the record shipper it starts.
        assert container["Command"] == ["mecroute", "gateway"]
        # ECS waits for the shipper's flush before it kills the container.
        assert container["StopTimeout"] > FLUSH_TIMEOUT_S
        assert environment["GATEWAY_METRICS"] == "cloudwatch"
        assert {"MODELS_TABLE", "NODES_TABLE", "STATS_TABLE", "DECISIONS_TABLE"} <= set(environment)
        seen.add(environment["MEC_SITE"])
    assert seen == SITES


def gateway_role_actions(synthesis: Synthesis) -> set[str]:
    actions: set[str] = set()
    for name, policy in synthesis.of_type("AWS::IAM::Policy").items():
        if name.startswith("EdgeGateways") and "TaskRole" in name:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions |= set(found if isinstance(found, list) else [found])
    return actions


def test_the_task_role_reads_the_snapshot_and_writes_records_only(synthesis: Synthesis):
    actions = gateway_role_actions(synthesis)

    assert {"dynamodb:Scan", "dynamodb:BatchWriteItem", "kinesis:PutRecords"} <= actions
    assert "s3:GetObject" in actions
    assert "cloudwatch:PutMetricData" in actions
    forbidden = {"dynamodb:DeleteItem", "s3:PutObject", "dynamodb:*"}
    assert not actions & forbidden
    assert not any(action.endswith("*") for action in actions)


def table_id(synthesis: Synthesis, prefix: str) -> str:
    (found,) = [name for name in synthesis.of_type("AWS::DynamoDB::GlobalTable")
                if name.startswith(prefix)]  # fmt: skip
    return found


def gateway_actions_on(synthesis: Synthesis, table: str) -> dict[str, set[str]]:
    """Each role policy's actions on `table`'s items, by policy name."""
    found: dict[str, set[str]] = {}
    for name, policy in synthesis.of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if table in json.dumps(statement["Resource"]):
                action = statement["Action"]
                found.setdefault(name, set()).update(
                    action if isinstance(action, list) else [action]
                )
    return found


def test_each_gateway_verifies_callers_against_the_api_keys_table(synthesis: Synthesis):
    """Deployed, a site's callers are who their key names (docs/security.md): the table is in
    every gateway's environment, and its role may only Scan it."""
    keys_table = table_id(synthesis, "StorageApiKeysTable")
    for task in gateways(synthesis.of_type("AWS::ECS::TaskDefinition")).values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment["API_KEYS_TABLE"] == {"Ref": keys_table}
    on_table = gateway_actions_on(synthesis, keys_table)
    assert all(name.startswith("EdgeGateways") for name in on_table)  # nobody else reads keys
    assert set().union(*on_table.values()) == {"dynamodb:Scan"}


def test_each_gateway_holds_callers_to_their_budgets_and_may_update_the_usage_table_only(
    synthesis: Synthesis,
):
    """A caller's budget holds at the edge as in the region: every gateway has the usage table
    and may read and update its items; no other table's."""
    usage_table = table_id(synthesis, "StorageUsageTable")
    for task in gateways(synthesis.of_type("AWS::ECS::TaskDefinition")).values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment["USAGE_TABLE"] == {"Ref": usage_table}
    on_usage = gateway_actions_on(synthesis, usage_table)
    gateway_policies = {name for name in on_usage if name.startswith("EdgeGateways")}
    assert len(gateway_policies) == len(SITES)
    for name in gateway_policies:
        assert on_usage[name] == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    for name, policy in synthesis.of_type("AWS::IAM::Policy").items():
        if name.startswith("EdgeGateways") and "TaskRole" in name:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "dynamodb:UpdateItem" in statement["Action"]:
                    assert usage_table in json.dumps(statement["Resource"]), statement


def test_each_gateway_calls_the_configured_cloud_tier_and_may_invoke_its_model_only(
    synthesis: Synthesis,
):
    for task in gateways(synthesis.of_type("AWS::ECS::TaskDefinition")).values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment["CLOUD_PROVIDER"] == CONFIG.cloud_provider == "bedrock"
        assert environment["BEDROCK_MODEL_ID"] == CONFIG.bedrock_model_id
    invoked = [
        statement["Resource"]
        for name, policy in gateways(synthesis.of_type("AWS::IAM::Policy")).items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "TaskRole" in name and statement["Action"] == "bedrock:InvokeModel"
    ]
    assert len(invoked) == len(SITES)
    for resource in invoked:
        assert f"foundation-model/{CONFIG.bedrock_model_id}" in json.dumps(resource)


def test_alarms_on_queue_depth_and_snapshot_age_page_the_topic(synthesis: Synthesis):
    alarms = gateways(synthesis.of_type("AWS::CloudWatch::Alarm")).values()
    watched = {(a["Properties"]["MetricName"], a["Properties"]["Namespace"]) for a in alarms}

    assert watched == {
        ("QueueDepth", "mecroute/gateway"),
        ("SnapshotAgeSeconds", "mecroute/gateway"),
    }
    assert len(list(alarms)) == 2 * len(SITES)
    for alarm in alarms:
        assert "AlarmActions" in alarm["Properties"], json.dumps(alarm)[:200]


def test_each_gateway_scales_on_requests_per_task_as_well_as_cpu(synthesis: Synthesis):
    policies = gateways(synthesis.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")).values()
    tracked = [p["Properties"]["TargetTrackingScalingPolicyConfiguration"] for p in policies]
    on_requests = [t for t in tracked if "CustomizedMetricSpecification" in t]
    on_cpu = [t for t in tracked if "PredefinedMetricSpecification" in t]

    assert len(on_cpu) == len(on_requests) == len(SITES)
    sites = set()
    for policy in on_requests:
        metric = policy["CustomizedMetricSpecification"]
        assert (metric["Namespace"], metric["MetricName"]) == ("mecroute/gateway", "Requests")
        assert metric["Statistic"] == "Average"  # over the site's tasks: requests per task
        sites |= {d["Value"] for d in metric["Dimensions"] if d["Name"] == "Site"}
        assert policy["TargetValue"] == REQUESTS_PER_TASK_PER_S * INTERVAL_S
    assert sites == SITES
