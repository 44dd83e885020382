"""A zoo directory as the artifact store and model registry: offline nodes need no bucket.

`mecroute build-zoo --out DIR` lays DIR out like the artifacts bucket (the artifact keys are
paths under it) and writes the registry entries to DIR/registry.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from mecroute.domain.registry import ModelSpec

REGISTRY_FILE = "registry.json"


class DirectoryArtifactStore:
    """`get("models/x/1/model.onnx")` reads `<root>/models/x/1/model.onnx`, never outside root."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def get(self, key: str) -> bytes:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise FileNotFoundError(f"artifact key {key!r} points outside {self.root}")
        return path.read_bytes()


class DirectoryRegistry:
    """The registry entries written beside the artifacts when the zoo was built."""

    def __init__(self, root: Path) -> None:
        self.path = root / REGISTRY_FILE

    def list_models(self) -> list[ModelSpec]:
        registry = json.loads(self.path.read_text())
        return [ModelSpec.model_validate(model) for model in registry["models"]]
