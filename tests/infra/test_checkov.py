"""What checkov found that was real is fixed in the template (a KMS key on every log group,
reserved concurrency on every function); what the design accepts is skipped on its resources
with a reason (infra/checkov.py). `make lint` runs checkov itself on the same template."""

from __future__ import annotations

from infra.checkov import ACCEPTED
from infra_synthesis import Synthesis


def test_every_log_group_is_encrypted_with_the_rotating_logs_key(synthesis: Synthesis):
    groups = synthesis.of_type("AWS::Logs::LogGroup")
    keys = synthesis.of_type("AWS::KMS::Key")

    assert groups
    for group in groups.values():
        (key,) = [k for k in keys if group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [k, "Arn"]}]
        assert keys[key]["Properties"]["EnableKeyRotation"] is True


def test_every_function_has_reserved_concurrency(synthesis: Synthesis):
    functions = synthesis.of_type("AWS::Lambda::Function")

    assert functions
    for function in functions.values():
        assert function["Properties"]["ReservedConcurrentExecutions"] >= 1


def test_every_skipped_finding_is_accepted_with_a_reason(synthesis: Synthesis):
    accepted = {(a.check, a.resource_type) for a in ACCEPTED}
    skipped = 0
    for resource in synthesis.resources.values():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skipped += 1
            assert (skip["id"], resource["Type"]) in accepted
            assert len(skip["comment"]) > 40
    assert skipped
