"""Template assertions on the synthesised stack (bundling skipped: no layer build in tests)."""

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import MecRouteStack

@pytest.fixture(scope="module")
def template() -> Template:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    return Template.from_stack(MecRouteStack(app, "Test"))


def test_six_agents_on_python_314_arm64_with_tracing(template: Template):
    functions = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Runtime": "python3.14", "Architectures": ["arm64"],
                        "TracingConfig": {"Mode": "Active"}}},
    )
    assert len(functions) == 6


def test_state_machine_is_express_and_runs_the_asl_file(template: Template):
    machines = template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineType": "EXPRESS"}}
    )
    (machine,) = machines.values()
    properties = machine["Properties"]
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == {f"{a}FunctionArn" for a in
                                  ("Context", "Resource", "Router", "Cache", "Execute", "Monitor")}
    # DefinitionBody.from_file: the ASL file itself is the deployed asset, unchanged.
    assert "DefinitionS3Location" in properties
    assert "DefinitionString" not in properties


def test_tables_encrypted_with_point_in_time_recovery(template: Template):
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 5)
    template.all_resources_properties(
        "AWS::DynamoDB::GlobalTable",
        {"SSESpecification": {"SSEEnabled": True},
         "Replicas": [Match.object_like({"PointInTimeRecoverySpecification":
                                         {"PointInTimeRecoveryEnabled": True}})]},
    )


def test_no_iam_statement_grants_a_wildcard_action(template: Template):
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions
