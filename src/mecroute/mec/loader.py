"""Loads zoo models from the artifact store, refusing any artifact that fails its sha256."""

from __future__ import annotations

import hashlib

from mecroute.adapters.ports import ArtifactStore
from mecroute.domain.errors import ModelIntegrityError
from mecroute.domain.registry import ModelSpec
from mecroute.mec.engine import OnnxModel


class VerifiedModels:
    """Keeps each verified model loaded for the life of the process (a Lambda container)."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts
        self._loaded: dict[tuple[str, str], OnnxModel] = {}

    def get(self, model: ModelSpec) -> OnnxModel:
        key = (model.model_id, model.sha256)
        if key not in self._loaded:
            data = self.artifacts.get(model.artifact_key)
            if hashlib.sha256(data).hexdigest() != model.sha256:
                raise ModelIntegrityError(f"{model.model_id}: artifact does not match its sha256")
            self._loaded[key] = OnnxModel(model.model_id, data)
        return self._loaded[key]
