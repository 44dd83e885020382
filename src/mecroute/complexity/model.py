"""Loads the shipped ONNX complexity model and scores prompts with it.

The graph takes the raw prompt (for its MMLU-learned TF-IDF part) and the cross-kind
features of `features.prompt_features`, and returns the complexity: the likelihood, in
[0, 1], that the request needs the cloud-class model. `model_card.json` beside it records
how it was trained and what it scored.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from mecroute.complexity.features import FEATURES, prompt_features

MODEL_DIR = Path(__file__).parent
MODEL_FILE = MODEL_DIR / "complexity.onnx"
CARD_FILE = MODEL_DIR / "model_card.json"


class ComplexityModel:
    def __init__(self, model_file: Path = MODEL_FILE, card_file: Path = CARD_FILE) -> None:
        import onnxruntime as ort  # heavy: only the context agent pays for it

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        shapes = {item.name: item.shape for item in self.session.get_inputs()}
        if shapes.get("features", [None, None])[1] != len(FEATURES):
            raise ValueError(f"{model_file.name} wants features {shapes}; this code has {FEATURES}")
        self.card: dict[str, Any] = json.loads(card_file.read_text())

    def complexities(self, prompts: list[str]) -> np.ndarray:
        """The complexity of each prompt, in one onnxruntime call."""
        batch = np.array(prompts, dtype=object).reshape(-1, 1)
        features = np.array([prompt_features(p) for p in prompts], np.float32)
        (output,) = self.session.run(["complexity"], {"prompt": batch, "features": features})
        return np.asarray(output, dtype=float).ravel()

    def complexity(self, prompt: str) -> float:
        """The likelihood, in [0, 1], that this prompt needs the cloud-class model."""
        return float(self.complexities([prompt])[0])


@functools.cache
def shipped() -> ComplexityModel:
    """The model in the package, loaded once per process (a Lambda container)."""
    return ComplexityModel()
