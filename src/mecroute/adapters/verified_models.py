"""Loads zoo models from the artifact store, refusing any artifact that fails its sha256;
onnxruntime is imported with the first model loaded."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mecroute.adapters.ports import ArtifactStore
from mecroute.domain.errors import ModelIntegrityError
from mecroute.domain.registry import ModelSpec

if TYPE_CHECKING:
    from mecroute.adapters.onnx_engine import OnnxModel


def verified_artifact(artifacts: ArtifactStore, key: str, sha256: str) -> bytes:
    """The artifact's bytes, only if they hash to the registered sha256."""
    data = artifacts.get(key)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ModelIntegrityError(
            f"artifact {key} has sha256 {actual}, the registry expects {sha256}: refused"
        )
    return data


class VerifiedModels:
    """Keeps each verified model loaded for the life of the process (a Lambda container)."""

    def __init__(self, artifacts: ArtifactStore, threads: int = 1) -> None:
        self.artifacts = artifacts
        self.threads = threads
        self._loaded: dict[tuple[str, str], OnnxModel] = {}

    def get(self, model: ModelSpec) -> OnnxModel:
        key = (model.model_id, model.sha256)
        if key not in self._loaded:
            # numpy and onnxruntime load with the first model, not with the process: a Lambda
            # that only calls MEC nodes or Bedrock never pays for them (about 145 ms).
            from mecroute.adapters.onnx_engine import OnnxModel

            data = verified_artifact(self.artifacts, model.artifact_key, model.sha256)
            self._loaded[key] = OnnxModel(model.model_id, data, self.threads)
        return self._loaded[key]
