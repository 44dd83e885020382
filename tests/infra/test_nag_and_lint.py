"""cdk-nag (AwsSolutions) has nothing left to report, every acknowledgment is specific and
explained, and cfn-lint finds no error in any synthesised template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file
from constructs import IConstruct
from infra_synthesis import Synthesis

# Rules that report one finding per wildcard or managed policy: acknowledge findings, not rules.
GRANULAR_RULES = ("AwsSolutions-IAM4", "AwsSolutions-IAM5")
LINT_REGIONS = ["us-east-1", "eu-west-1"]


# aws-cdk-lib acknowledges some CloudFormation-Validate findings on its own constructs (W3010
# literal AZs, F3002/F3003 on flow logs); ours are the AwsSolutions ones and this one.
OWN_TEMPLATE_ACKNOWLEDGMENT = "CloudFormation-Validate::W7001"


def acknowledgments(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, acknowledged id, reason) for every acknowledgment infra/nag.py made."""
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    if "AwsSolutions-" in rule or rule == OWN_TEMPLATE_ACKNOWLEDGMENT:
                        found.append((construct.node.path, rule, reason))
    return found


def lint(outdir: Path) -> list[tuple[str, Any]]:
    """(template file, cfn-lint match) for every synthesised template in the assembly."""
    templates = sorted(outdir.glob("*.template.json"))
    assert templates
    return [
        (template.name, match)
        for template in templates
        for match in lint_file(template, config=ManualArgs(regions=LINT_REGIONS))
    ]


def test_synth_passed_validation(synthesis: Synthesis):
    assert synthesis.error is None, str(synthesis.error)
    for plugin in synthesis.validation_report().get("pluginReports", []):
        assert plugin["violations"] == [], plugin["pluginName"]


def test_aws_solutions_pack_finds_nothing_unacknowledged(synthesis: Synthesis):
    report = AwsSolutionsChecks().validate_scope(synthesis.stack)
    assert [(v.rule_name, v.violating_resources) for v in report.violations] == []
    assert report.success


def test_aws_solutions_pack_does_flag_an_insecure_resource():
    """The control for the test above: the pack runs here and reports what it should."""
    app = cdk.App()
    stack = cdk.Stack(app, "Insecure")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    report = AwsSolutionsChecks().validate_scope(stack)
    assert {"AwsSolutions-SQS2", "AwsSolutions-SQS4"} <= {v.rule_name for v in report.violations}


def test_every_acknowledgment_is_specific_and_explained(synthesis: Synthesis):
    found = acknowledgments(synthesis.stack)
    assert found
    for path, rule, reason in found:
        bare = rule.removeprefix("Annotation::")
        assert bare not in GRANULAR_RULES, f"{path}: acknowledge the finding, not all of {bare}"
        assert len(reason) >= 80, f"{path} {rule}: the reason must say why"


def test_acknowledgments_sit_on_the_constructs_that_hold_the_findings(synthesis: Synthesis):
    """None is placed on the stack or the app, except the CDK plugin's own template warning."""
    at_top = [rule for path, rule, _ in acknowledgments(synthesis.stack) if "/" not in path]
    assert at_top == [OWN_TEMPLATE_ACKNOWLEDGMENT]


@pytest.fixture(scope="module")
def lint_matches(synthesis: Synthesis) -> list[tuple[str, Any]]:
    return lint(synthesis.outdir)


def test_cfn_lint_reports_no_error(lint_matches: list[tuple[str, Any]]):
    errors = [f"{name}: {m.rule.id} {m.message}" for name, m in lint_matches
              if m.rule.severity == "error"]  # fmt: skip
    assert errors == []


def test_cfn_lint_warnings_are_only_those_cdk_generates(lint_matches: list[tuple[str, Any]]):
    """W3005: CDK adds DependsOn on roles it also references; W7001: the Firehose L2's mapping."""
    assert {m.rule.id for _, m in lint_matches if m.rule.severity == "warning"} <= {
        "W3005",
        "W7001",
    }
