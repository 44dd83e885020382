"""The security controls docs/reliability.md lists, checked on the synthesised template: least
privilege (no wildcard action or resource that cdk-nag has not been told why about),
encryption at rest, TLS-only access, authentication on every route, and no secrets in the
template or the repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnResource, Validations
from infra_synthesis import Synthesis

ROOT = Path(__file__).resolve().parents[2]


def construct_paths(synthesis: Synthesis) -> dict[str, str]:
    """Logical id -> construct path, for every CloudFormation resource of the stack."""
    stack = synthesis.stack
    return {
        stack.resolve(child.logical_id): child.node.path
        for child in stack.node.find_all()
        if isinstance(child, CfnResource)
    }


def identity_statements(synthesis: Synthesis) -> list[tuple[str, dict[str, Any]]]:
    """(construct path, statement) for every statement of every identity policy."""
    paths = construct_paths(synthesis)
    found = []
    for logical_id, resource in synthesis.resources.items():
        path = paths[logical_id]
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            found += [(path, s) for s in properties["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found += [(path, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def acknowledged(synthesis: Synthesis) -> dict[str, set[str]]:
    """Construct path -> the cdk-nag finding ids acknowledged on it."""
    found: dict[str, set[str]] = {}
    for construct in synthesis.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.setdefault(construct.node.path, set()).update(entry.data)
    return found


def is_acknowledged(acks: dict[str, set[str]], path: str, finding: str) -> bool:
    return any(
        path.startswith(f"{owner}/") and any(finding in rule for rule in rules)
        for owner, rules in acks.items()
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- least privilege ------------------------------------------------------------------------------


def test_every_wildcard_action_is_an_acknowledged_finding(synthesis: Synthesis) -> None:
    acks = acknowledged(synthesis)
    statements = identity_statements(synthesis)
    assert len(statements) > 50
    for path, statement in statements:
        for action in as_list(statement["Action"]):
            assert action != "*", (path, statement)
            assert not action.endswith(":*"), (path, statement)
            if "*" in action:
                finding = f"AwsSolutions-IAM5[Action::{action}]"
                assert is_acknowledged(acks, path, finding), (path, action)


def test_every_wildcard_resource_is_an_acknowledged_finding(synthesis: Synthesis) -> None:
    acks = acknowledged(synthesis)
    for path, statement in identity_statements(synthesis):
        if "*" in as_list(statement.get("Resource", [])):
            assert is_acknowledged(acks, path, "AwsSolutions-IAM5[Resource::*]"), (path, statement)


def test_the_wildcard_check_does_flag_an_unacknowledged_wildcard(synthesis: Synthesis) -> None:
    """The control for the two tests above."""
    acks = acknowledged(synthesis)
    assert not is_acknowledged(
        acks, "MecRoute-test/Nowhere/Policy", "AwsSolutions-IAM5[Action::s3:*]"
    )


# -- encryption at rest ---------------------------------------------------------------------------


def test_every_store_is_encrypted_at_rest(synthesis: Synthesis) -> None:
    for table in synthesis.of_type("AWS::DynamoDB::GlobalTable").values():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    for bucket in synthesis.of_type("AWS::S3::Bucket").values():
        assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    queues = synthesis.of_type("AWS::SQS::Queue").values()
    assert len(queues) == 2  # the aggregator's and the records' dead letters
    for queue in queues:
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
    for topic in synthesis.of_type("AWS::SNS::Topic").values():
        assert "KmsMasterKeyId" in topic["Properties"]
    for stream in synthesis.of_type("AWS::Kinesis::Stream").values():
        assert stream["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    for key in synthesis.of_type("AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


# -- TLS ------------------------------------------------------------------------------------------

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def denies_plain_http(policy: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == TLS_ONLY for s in policy["Statement"]
    )


@pytest.mark.parametrize(
    ("resource_type", "policy_type", "target"),
    [
        ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "Bucket"),
        ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "Queues"),
        ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "Topics"),
    ],
)
def test_every_bucket_queue_and_topic_refuses_plain_http(
    synthesis: Synthesis, resource_type: str, policy_type: str, target: str
) -> None:
    covered = set()
    for policy in synthesis.of_type(policy_type).values():
        properties = policy["Properties"]
        if denies_plain_http(properties["PolicyDocument"]):
            covered.update(json.dumps(ref) for ref in as_list(properties[target]))
    for logical_id in synthesis.of_type(resource_type):
        assert any(logical_id in ref for ref in covered), logical_id


# -- authentication -------------------------------------------------------------------------------


def test_every_api_method_requires_a_signature(synthesis: Synthesis) -> None:
    methods = synthesis.of_type("AWS::ApiGateway::Method").values()
    assert methods
    for method in methods:
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM", method


# -- secrets --------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"),
    "AWS secret access key": re.compile(r"(?i)aws.{0,20}secret.{0,20}['\"][A-Za-z0-9/+]{40}['\"]"),
    "assigned credential": re.compile(
        r"(?i)\b(?:password|passwd|secret|api_?key|token)\b\s*[:=]\s*['\"][^'\"\s]{12,}['\"]"
    ),
}
SECRET_NAMED_VARIABLE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|ACCESS_KEY")


def secrets_in(text: str) -> list[str]:
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    binary = {".onnx", ".png", ".jpg", ".gz", ".zip", ".whl", ".npy", ".pkl", ".parquet"}
    files = [ROOT / name for name in listed
             if Path(name).suffix not in binary and (ROOT / name).is_file()]  # fmt: skip
    # Data sets and generated bulk are not where credentials get pasted.
    return [path for path in files if path.stat().st_size < 2_000_000]


def test_no_secret_in_the_template(synthesis: Synthesis) -> None:
    assert secrets_in(json.dumps(synthesis.raw_template)) == []
    for function in synthesis.of_type("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not [name for name in variables if SECRET_NAMED_VARIABLE.search(name)]


def test_no_secret_in_the_repository() -> None:
    files = repository_files()
    assert len(files) > 100
    found = {}
    for path in files:
        hits = secrets_in(path.read_text(errors="replace"))
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {}


# AWS's documented example credentials, assembled here so that this file passes its own scan.
EXAMPLE_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PLANTED = [
    "AKIA" + "IOSFODNN7EXAMPLE",
    "-----BEGIN RSA " + "PRIVATE KEY-----",
    "aws_secret_access_key = " + f'"{EXAMPLE_KEY}"',
    "password = " + '"correct-horse-battery"',
]


@pytest.mark.parametrize("planted", PLANTED)
def test_the_secret_scan_does_find_a_planted_secret(planted: str) -> None:
    """The control for the two tests above."""
    assert secrets_in(f"config:\n  {planted}\n")
