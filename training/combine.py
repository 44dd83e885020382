"""The last layer: the MMLU-learned text score and the cross-kind features, in two branches.

On multiple-choice exam questions (what MMLU holds) a logistic regression fitted on MMLU
calibrates the text score. On every other prompt the text score, whose vocabulary was
learned on exam questions only, is left out (see TEXT_WEIGHT_OFF_MMLU), and the features
carry weights set from what separates the model classes on other kinds of prompts (MMLU
cannot teach them: its prompts barely vary in these features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from mecroute.complexity.features import FEATURES

# Off-MMLU weights: logit change as a feature goes from 0 to 1. Positive where the cloud-class
# model is needed more often (multi-step arithmetic, proofs, intricate code, exact
# constraints); negative where both classes do well (small talk, rewriting given text,
# open-ended writing).
PRIOR = {
    "length": 0.3,
    "lines": 0.0,
    "numbers": 1.5,
    "math": 0.5,
    "arithmetic": 0.7,
    "reasoning": 1.5,
    "code": 1.0,
    "constraints": 1.0,
    "long_output": -0.5,
    "transform": -1.0,
    "steps": 0.5,
    "questions": 0.5,
    "small_talk": -2.0,
    "multiple_choice": 0.0,
}
# Off multiple-choice prompts the text score's weight is scaled by this. Zero: measured off
# MMLU, a TF-IDF model of this kind ranks below random on chat (0.35), arena (0.48) and
# instruction (0.47) prompts (issue 15), and on three of our five labelled kinds.
TEXT_WEIGHT_OFF_MMLU = 0.0

_CHOICES = FEATURES.index("multiple_choice")


@dataclass(frozen=True)
class Combiner:
    """complexity = sigmoid(branch bias + text weight * z(text) + features @ branch weights)."""

    text_mean: float
    text_scale: float
    biases: np.ndarray  # (2,): on-MMLU, off-MMLU
    text_weights: np.ndarray  # (2,)
    weights: np.ndarray  # (features, 2)

    def logit(self, text: np.ndarray, features: np.ndarray) -> np.ndarray:
        z = (text - self.text_mean) / self.text_scale
        both = self.biases + np.outer(z, self.text_weights) + features @ self.weights
        on_mmlu = features[:, _CHOICES]
        result: np.ndarray = on_mmlu * both[:, 0] + (1 - on_mmlu) * both[:, 1]
        return result

    def __call__(self, text: np.ndarray, features: np.ndarray) -> np.ndarray:
        result: np.ndarray = 1 / (1 + np.exp(-self.logit(text, features)))
        return result


def fit(text: np.ndarray, features: np.ndarray, mec_wrong: np.ndarray) -> Combiner:
    """Fit on MMLU rows; `mec_wrong` is 1 where the MEC-class model answers wrong.

    The target is what the router's accuracy model takes as complexity (P(MEC-class wrong));
    the text score it calibrates was trained on the gain, so the order is the gain's.

    On MMLU the features add nothing once the text score is known (tried: a penalised fit
    lowered cross-validated APGR from 0.70 to 0.68), so that branch calibrates the text score
    alone.
    """
    mean, scale = float(text.mean()), float(text.std()) or 1.0
    z = (text - mean) / scale
    y = mec_wrong.astype(float)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        logit = params[0] + params[1] * z
        residual = 1 / (1 + np.exp(-logit)) - y
        value = np.logaddexp(0, logit).sum() - y @ logit
        return float(value), np.array([residual.sum(), residual @ z])

    start = np.array([np.log(y.mean() / (1 - y.mean())), 0.0])
    bias, text_weight = minimize(loss, start, jac=True, method="L-BFGS-B").x
    prior = np.array([PRIOR[name] for name in FEATURES])
    off_text = TEXT_WEIGHT_OFF_MMLU * text_weight
    # Anchor the off-MMLU branch: on MMLU's own prompts both branches average the same logit.
    off_bias = float((bias + text_weight * z).mean() - (off_text * z + features @ prior).mean())
    return Combiner(
        text_mean=mean,
        text_scale=scale,
        biases=np.array([bias, off_bias]),
        text_weights=np.array([text_weight, off_text]),
        weights=np.c_[np.zeros(len(FEATURES)), prior],
    )
