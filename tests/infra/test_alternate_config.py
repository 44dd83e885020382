"""The other configuration a deployer can choose: no Fargate fleet, API keys with a usage plan,
an alarm e-mail. Synthesised once for this module; it must pass cdk-nag and cfn-lint too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file
from infra.config import AppConfig, cdk_json_context
from infra_synthesis import STACK_NAME, Synthesis, synthesize

ALARM_EMAIL = "oncall@example.com"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out-keyed"),
        deploy_fleet=False,
        api_auth="api_key",
        alarm_email=ALARM_EMAIL,
        api_cloudwatch_role=False,
    )


def test_passes_cdk_nag_and_cfn_lint(keyed: Synthesis):
    assert keyed.error is None, str(keyed.error)
    template = Path(keyed.outdir) / f"{STACK_NAME}.template.json"
    errors = [m for m in lint_file(template, config=ManualArgs(regions=["us-east-1"]))
              if m.rule.severity == "error"]  # fmt: skip
    assert errors == []


def test_no_fleet_means_no_network_and_no_vpc_functions(keyed: Synthesis):
    for resource_type in (
        "AWS::EC2::VPC",
        "AWS::ECS::Cluster",
        "AWS::ECS::Service",
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        "AWS::EC2::NatGateway",
    ):
        assert not keyed.of_type(resource_type), resource_type  # fmt: skip
    for fn in keyed.of_type("AWS::Lambda::Function").values():
        assert "VpcConfig" not in fn["Properties"]


def test_the_model_zoo_is_still_seeded_without_the_fleet(keyed: Synthesis):
    assert keyed.of_type("Custom::CDKBucketDeployment")
    assert keyed.of_type("Custom::AWS")


def test_api_key_mode_requires_a_key_on_every_method(keyed: Synthesis):
    methods = keyed.of_type("AWS::ApiGateway::Method")
    # inference, chat completions, models, nodes, usage, stats, one decision, feedback: each
    # with a key
    routes = ("v1inferencePOST", "v1chatcompletionsPOST", "v1modelsGET", "v1nodesGET",
              "v1usageGET", "v1statsGET", "v1decisionsrequestidGET", "v1feedbackPOST")  # fmt: skip
    assert sorted(any(route in logical_id for route in routes) for logical_id in methods) == [
        True
    ] * len(routes)
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] == "NONE"
        assert method["Properties"]["ApiKeyRequired"] is True
    (plan,) = keyed.of_type("AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Quota"]["Period"] == "DAY"
    assert "RateLimit" in plan["Properties"]["Throttle"]
    assert len(keyed.of_type("AWS::ApiGateway::ApiKey")) == 1
    assert len(keyed.of_type("AWS::ApiGateway::UsagePlanKey")) == 1


def test_each_keys_limits_are_the_usage_plans_and_its_429s_name_them(keyed: Synthesis):
    config = AppConfig.model_validate(cdk_json_context())
    (plan,) = keyed.of_type("AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {
        "RateLimit": config.api_rate_limit, "BurstLimit": config.api_burst_limit,
    }  # fmt: skip
    assert plan["Properties"]["Quota"] == {"Limit": config.api_quota_per_day, "Period": "DAY"}
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in keyed.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    throttled = json.loads(responses["THROTTLED"]["ResponseTemplates"]["application/json"])
    quota = json.loads(responses["QUOTA_EXCEEDED"]["ResponseTemplates"]["application/json"])

    statuses = {responses[kind]["StatusCode"] for kind in ("THROTTLED", "QUOTA_EXCEEDED")}
    assert statuses == {"429"}
    rate = f"{config.api_rate_limit:g} requests/s (burst {config.api_burst_limit})"
    assert throttled["error"] == "TooManyRequests"
    assert f"{rate} per API key" in throttled["message"]
    assert quota["error"] == "QuotaExceeded"
    assert f"{config.api_quota_per_day} requests per day per API key" in quota["message"]


def test_alarm_email_is_subscribed(keyed: Synthesis):
    (subscription,) = keyed.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == ALARM_EMAIL


def test_fleet_alarms_go_with_the_fleet(keyed: Synthesis):
    # failed executions, p99 latency for each of three tiers, routing overhead p95, two DLQ
    # depths, API 5xx, the canaries' 13 (two per agent, one for the pipeline); no node or
    # gateway alarms without the fleet
    alarms = keyed.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 8 + 13
    assert any("RoutingOverhead" in logical_id for logical_id in alarms)
    assert not any("Gateway" in logical_id or "Node" in logical_id for logical_id in alarms)


def test_account_cloudwatch_role_can_be_left_to_the_account(keyed: Synthesis):
    assert not keyed.of_type("AWS::ApiGateway::Account")
