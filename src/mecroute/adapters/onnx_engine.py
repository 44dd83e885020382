"""Runs a zoo model on a prompt with onnxruntime: the same code on device, MEC node, cloud sim."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from mecroute.domain.estimates import TIER_THREADS

__all__ = ["FEATURES", "TIER_THREADS", "OnnxModel", "featurise"]
FEATURES = 256
_WORD = re.compile(r"\w+", re.UNICODE)


def featurise(prompt: str) -> np.ndarray:
    """A hashed bag of words, L2-normalised: the zoo models' input."""
    vector = np.zeros((1, FEATURES), dtype=np.float32)
    for word in _WORD.findall(prompt.lower()):
        bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
        vector[0, bucket % FEATURES] += 1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass(frozen=True)
class Inference:
    output: str
    compute_ms: float


class OnnxModel:
    def __init__(self, model_id: str, artifact: bytes, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.model_id = model_id
        self.session = ort.InferenceSession(
            artifact, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def run(self, prompt: str) -> Inference:
        started = time.perf_counter()
        (probabilities,) = self.session.run(None, {self.input_name: featurise(prompt)})
        compute_ms = (time.perf_counter() - started) * 1000
        label = int(np.argmax(probabilities[0]))
        confidence = float(probabilities[0, label])
        return Inference(
            output=f"label {label} (confidence {confidence:.2f}, {self.model_id})",
            compute_ms=compute_ms,
        )
