"""Loads the shipped ONNX complexity model and its calibration, and scores prompts.

The ONNX graph maps the raw prompt to a routing score (higher: more likely that only the
cloud-class model answers it right). `calibration.json` maps that score to the probability
that the MEC-class model gets the prompt wrong, which is what the router's accuracy model
(see `router.predicted_accuracy`) takes as complexity.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_DIR = Path(__file__).parent
MODEL_FILE = MODEL_DIR / "complexity.onnx"
CALIBRATION_FILE = MODEL_DIR / "calibration.json"


@dataclass(frozen=True)
class Calibration:
    scores: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __call__(self, score: float) -> float:
        return float(np.interp(score, self.scores, self.probabilities))


class ComplexityModel:
    def __init__(self, model_file: Path = MODEL_FILE, calibration_file: Path = CALIBRATION_FILE):
        import onnxruntime as ort  # heavy: only the context agent pays for it

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        first_input = self.session.get_inputs()[0]
        self.input_name = first_input.name
        self.input_rank = len(first_input.shape)
        meta: dict[str, Any] = json.loads(calibration_file.read_text())
        self.calibration = Calibration(
            tuple(meta["calibration"]["scores"]), tuple(meta["calibration"]["probabilities"])
        )
        self.card: dict[str, Any] = meta

    def score(self, prompt: str) -> float:
        """The raw routing score: its order is what eval-router measures."""
        batch = np.array([prompt], dtype=object)
        if self.input_rank == 2:
            batch = batch.reshape(1, 1)
        (output, *_) = self.session.run(None, {self.input_name: batch})
        return float(np.asarray(output).ravel()[0])

    def complexity(self, prompt: str) -> float:
        """P(the MEC-class model answers wrong), calibrated on the train split."""
        return round(min(1.0, max(0.0, self.calibration(self.score(prompt)))), 4)


@functools.cache
def shipped() -> ComplexityModel:
    """The model in the package, loaded once per process (a Lambda container)."""
    return ComplexityModel()
