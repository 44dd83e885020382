"""Loading, evicting and refusing models on a real node, with artifacts from moto's S3."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mecroute.adapters.aws import client
from mecroute.domain.errors import ModelIntegrityError
from mecroute.local.runtime import ZOO_DIR

from .nodes import Aws, Fleet, Reply, call

PROMPT = "What is the capital of France?"


def load(endpoint: str, aws: Aws, model_id: str, **body_overrides: str) -> Reply:
    spec = aws.specs[model_id]
    body = {"artifact_key": spec.artifact_key, "sha256": spec.sha256, **body_overrides}
    return call(f"{endpoint}/models/{model_id}/load", "POST", body)


def infer(endpoint: str, model_id: str) -> Reply:
    return call(f"{endpoint}/infer", "POST", {"model_id": model_id, "prompt": PROMPT})


@pytest.fixture
def tampered(aws: Aws) -> Iterator[str]:
    """edge-small-v1's object in S3 replaced by other bytes; put back after the test."""
    key = aws.specs["edge-small-v1"].artifact_key
    s3 = client("s3")
    bucket = aws.names.artifacts_bucket
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=original[:-64] + b"\0" * 64)
    yield "edge-small-v1"
    s3.put_object(Bucket=bucket, Key=key, Body=original)


def test_a_loaded_model_serves_until_it_is_evicted(aws: Aws, fleet: Fleet) -> None:
    node = fleet.start(node_id="mec-models-1", preload=())

    loaded = load(node.endpoint, aws, "edge-small-v1")
    served = infer(node.endpoint, "edge-small-v1")
    health = call(f"{node.endpoint}/health").body

    assert loaded.status == 200
    assert loaded.body["loaded"] is True
    assert served.status == 200
    assert "edge-small-v1" in served.body["output"]
    assert health["loaded_models"] == ["edge-small-v1"]
    assert health["memory_used_mb"] == aws.specs["edge-small-v1"].memory_mb

    evicted = call(f"{node.endpoint}/models/edge-small-v1", "DELETE")
    after = infer(node.endpoint, "edge-small-v1")

    assert evicted.status == 200
    assert evicted.body["evicted"] is True
    assert after.status == 404
    assert after.body["error"] == "ModelNotLoaded"
    assert call(f"{node.endpoint}/health").body["loaded_models"] == []
    assert call(f"{node.endpoint}/models/edge-small-v1", "DELETE").status == 404


def test_loading_past_the_memory_budget_evicts_the_least_recently_used(
    aws: Aws, fleet: Fleet
) -> None:
    # Given: 40 MB holds edge-small (10.4) and tinytext (8.3) but not edge-large (23.4) as well
    node = fleet.start(node_id="mec-models-2", preload=(), memory_budget_mb=40)
    assert load(node.endpoint, aws, "edge-small-v1").status == 200
    assert load(node.endpoint, aws, "tinytext-device-v1").status == 200
    assert infer(node.endpoint, "edge-small-v1").status == 200  # tinytext is now the older

    # When
    reply = load(node.endpoint, aws, "edge-large-v1")

    # Then: only the least recently used model made room
    assert reply.status == 200
    assert reply.body["evicted"] == ["tinytext-device-v1"]
    health = call(f"{node.endpoint}/health").body
    assert sorted(health["loaded_models"]) == ["edge-large-v1", "edge-small-v1"]
    assert health["memory_used_mb"] <= 40
    assert infer(node.endpoint, "tinytext-device-v1").status == 404


def test_a_model_larger_than_the_whole_budget_is_refused_clearly(aws: Aws, fleet: Fleet) -> None:
    node = fleet.start(node_id="mec-models-3", preload=("tinytext-device-v1",), memory_budget_mb=16)

    reply = load(node.endpoint, aws, "edge-large-v1")

    assert reply.status == 507
    assert reply.body["error"] == "InsufficientMemory"
    assert "edge-large-v1 needs 23.4 MB" in reply.body["message"]
    assert "budget is 16.0 MB" in reply.body["message"]
    # Nothing was evicted for a model that could never fit.
    assert call(f"{node.endpoint}/health").body["loaded_models"] == ["tinytext-device-v1"]


def test_a_tampered_artifact_is_refused_and_never_served(
    aws: Aws, fleet: Fleet, tampered: str
) -> None:
    node = fleet.start(node_id="mec-models-4", preload=())

    reply = load(node.endpoint, aws, tampered)

    assert reply.status == 422
    assert reply.body["error"] == "ModelIntegrityError"
    assert aws.specs[tampered].sha256 in reply.body["message"]
    assert "refused" in reply.body["message"]
    assert tampered not in call(f"{node.endpoint}/health").body["loaded_models"]
    assert infer(node.endpoint, tampered).status == 404
    # The cache agent's client names the integrity failure, so the pipeline records it as such.
    spec = aws.specs[tampered]
    with pytest.raises(ModelIntegrityError, match="sha256"):
        fleet.client().load(
            node.endpoint, node.profile.node_id, tampered, spec.artifact_key, spec.sha256
        )


def test_a_tampered_new_version_leaves_the_verified_one_serving(
    aws: Aws, fleet: Fleet, tampered: str
) -> None:
    # Given: a verified copy of edge-small is loaded; then a new version is announced whose
    # object in S3 does not hash to the announced sha256
    node = fleet.start(node_id="mec-models-5", preload=())
    spec = aws.specs[tampered]
    client("s3").put_object(
        Bucket=aws.names.artifacts_bucket, Key="models/verified/1/model.onnx",
        Body=(ZOO_DIR / spec.artifact_key).read_bytes(),
    )  # fmt: skip
    first = load(node.endpoint, aws, tampered, artifact_key="models/verified/1/model.onnx")
    before = infer(node.endpoint, tampered)

    # When
    refused = load(node.endpoint, aws, tampered, sha256="0" * 64)

    # Then
    assert first.status == 200
    assert before.status == 200
    assert refused.status == 422
    after = infer(node.endpoint, tampered)
    assert after.status == 200
    assert after.body["output"] == before.body["output"]


def test_a_node_without_aws_serves_a_zoo_directory_and_checks_it_too(
    offline_fleet: Fleet, tmp_path: Path
) -> None:
    # Given: `mecroute node --models-dir DIR` with no bucket and no nodes table
    zoo = tmp_path / "zoo"
    shutil.copytree(ZOO_DIR, zoo)
    node = offline_fleet.start(
        node_id="mec-offline-1",
        preload=("edge-small-v1",),
        extra_arguments=("--models-dir", str(zoo)),
    )

    # Then: it serves, and loads by model id alone (the directory's registry.json has the rest)
    assert infer(node.endpoint, "edge-small-v1").status == 200
    assert call(f"{node.endpoint}/models/tinytext-device-v1/load", "POST").status == 200

    # And a file changed on disk is refused like a tampered S3 object
    large = zoo / "models" / "edge-large-v1" / "1" / "model.onnx"
    large.write_bytes(large.read_bytes()[:-8] + b"\0" * 8)
    refused = call(f"{node.endpoint}/models/edge-large-v1/load", "POST")
    assert refused.status == 422
    assert refused.body["error"] == "ModelIntegrityError"
    assert call(f"{node.endpoint}/models/not-in-the-zoo/load", "POST").status == 404
