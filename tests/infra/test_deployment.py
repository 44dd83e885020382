"""Canary deployments rolled back by alarms, and the stack's spend budget, in the template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_synthesis import Synthesis, synthesize

from mecroute.lambda_support.manifest import AGENTS


def ref_of(resources: dict[str, Any], resource_type: str) -> set[str]:
    return {key for key, r in resources.items() if r["Type"] == resource_type}


def test_every_agent_is_invoked_through_its_live_alias(synthesis: Synthesis) -> None:
    aliases = synthesis.of_type("AWS::Lambda::Alias")
    assert len(aliases) == len(AGENTS)
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}
    (machine,) = synthesis.of_type("AWS::StepFunctions::StateMachine").values()
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    for agent in AGENTS:
        assert substitutions[f"{agent.capitalize()}FunctionArn"]["Ref"] in aliases
    # The state machine may invoke the aliases and nothing else.
    invoke = [
        statement
        for policy in synthesis.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
        and any("Deployments" in json.dumps(r) for r in statement["Resource"])
    ]
    (statement,) = invoke
    assert {r["Ref"] for r in statement["Resource"]} == set(aliases)


def test_each_alias_is_shifted_by_a_canary_that_alarms_roll_back(synthesis: Synthesis) -> None:
    groups = synthesis.of_type("AWS::CodeDeploy::DeploymentGroup")
    assert len(groups) == len(AGENTS)
    alarms = synthesis.of_type("AWS::CloudWatch::Alarm")
    for group in groups.values():
        properties = group["Properties"]
        assert (
            properties["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        )
        assert properties["DeploymentStyle"] == {
            "DeploymentOption": "WITH_TRAFFIC_CONTROL", "DeploymentType": "BLUE_GREEN"
        }  # fmt: skip
        rollback = properties["AutoRollbackConfiguration"]
        assert rollback["Enabled"] is True
        assert set(rollback["Events"]) == {
            "DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"
        }  # fmt: skip
        watched = properties["AlarmConfiguration"]["Alarms"]
        assert properties["AlarmConfiguration"]["Enabled"] is True
        names = {json.dumps(a["Name"]) for a in watched}
        assert len(names) == 2
        # ...the new version's error rate and its duration
        for name in names:
            logical_id = json.loads(name)["Ref"]
            assert logical_id in alarms
            assert "Canary" in logical_id
    for alias in synthesis.of_type("AWS::Lambda::Alias").values():
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


def test_a_canary_alarm_watches_the_new_versions_error_rate(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": Match.string_like_regexp("execute agent: the deployed version"),
            "Threshold": 10,
            "Metrics": Match.array_with(
                [Match.object_like({"Expression": Match.string_like_regexp("100 \\* errors")})]
            ),
        },
    )


def test_the_state_machine_is_versioned_behind_a_canary_alias(synthesis: Synthesis) -> None:
    (version,) = synthesis.of_type("AWS::StepFunctions::StateMachineVersion").values()
    (alias,) = synthesis.of_type("AWS::StepFunctions::StateMachineAlias").values()
    (machine_id,) = synthesis.of_type("AWS::StepFunctions::StateMachine")
    assert version["Properties"]["StateMachineArn"] == {"Ref": machine_id}
    preference = alias["Properties"]["DeploymentPreference"]
    assert (preference["Type"], preference["Percentage"], preference["Interval"]) == (
        "CANARY",
        10,
        5,
    )
    assert len(preference["Alarms"]) == 1
    assert alias["Properties"]["Name"] == "live"


def test_ecs_services_roll_back_a_failing_deployment(synthesis: Synthesis) -> None:
    services = synthesis.of_type("AWS::ECS::Service")
    assert services  # the MEC nodes and the edge gateways
    for service in services.values():
        breaker = service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}


def test_the_stacks_monthly_cost_has_a_budget_alerting_the_alarm_topic(
    synthesis: Synthesis,
) -> None:
    (budget,) = synthesis.of_type("AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": 100, "Unit": "USD"}
    (topic_id,) = synthesis.of_type("AWS::SNS::Topic")
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {(n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
            for n in notifications} == {("ACTUAL", 80), ("FORECASTED", 100)}  # fmt: skip
    for notification in notifications:
        assert {"SubscriptionType": "SNS", "Address": {"Ref": topic_id}} in notification[
            "Subscribers"
        ]
    policies = synthesis.of_type("AWS::SNS::TopicPolicy").values()
    assert any(
        s.get("Principal") == {"Service": "budgets.amazonaws.com"}
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    )


def test_the_dashboard_shows_spend_per_tier_and_caller(synthesis: Synthesis) -> None:
    (dashboard,) = synthesis.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Spend per tier and caller" in body
    assert "stats sum(cost_usd) as spent_usd" in body


@pytest.fixture(scope="module")
def all_at_once(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.all-at-once"),
        deployment_config="AllAtOnce",
        budget_monthly_usd=25,
        budget_email="finance@example.com",
        deploy_fleet=False,
    )


def test_the_deployment_and_budget_follow_the_context(all_at_once: Synthesis) -> None:
    assert all_at_once.error is None
    for group in all_at_once.of_type("AWS::CodeDeploy::DeploymentGroup").values():
        assert group["Properties"]["DeploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    (alias,) = all_at_once.of_type("AWS::StepFunctions::StateMachineAlias").values()
    assert alias["Properties"]["DeploymentPreference"]["Type"] == "ALL_AT_ONCE"
    (budget,) = all_at_once.of_type("AWS::Budgets::Budget").values()
    assert budget["Properties"]["Budget"]["BudgetLimit"]["Amount"] == 25
    subscribers = budget["Properties"]["NotificationsWithSubscribers"][0]["Subscribers"]
    assert {"SubscriptionType": "EMAIL", "Address": "finance@example.com"} in subscribers
