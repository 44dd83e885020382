"""The MMLU-learned part: word TF-IDF into linear heads, stacked into one text score.

Heads: a subject classifier (softmax) times per-subject train averages, and ridge
regressions for the gain (cloud-correct minus MEC-correct), P(MEC wrong) and P(cloud wrong).
Every head is linear, so the ONNX graph computes exactly what `transform` computes here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import spmatrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge, SGDClassifier


def vectoriser(max_features: int) -> TfidfVectorizer:
    # This token pattern and binary counts keep onnxruntime's TF-IDF bit-exact with sklearn's.
    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=max_features,
        token_pattern=r"[A-Za-z0-9]+",  # noqa: S106 - a regex, not a secret
        binary=True,
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


class TextHeads:
    """Four linear heads over TF-IDF, fitted on one set of rows; `transform` gives 6 columns."""

    def __init__(self, subject_alpha: float, ridge_alpha: float, seed: int) -> None:
        self.subject_alpha, self.ridge_alpha, self.seed = subject_alpha, ridge_alpha, seed

    def fit(self, x: spmatrix, subject: np.ndarray, mec: np.ndarray, cloud: np.ndarray) -> Any:
        subjects = np.unique(subject)
        classifier = SGDClassifier(
            loss="log_loss", alpha=self.subject_alpha, max_iter=50, tol=1e-4, random_state=self.seed
        ).fit(x, subject)
        self.prior = np.array(
            [
                [
                    (cloud - mec)[subject == s].mean(),
                    1 - mec[subject == s].mean(),
                    1 - cloud[subject == s].mean(),
                ]
                for s in subjects
            ]
        )
        targets = np.c_[cloud - mec, 1 - mec, 1 - cloud].astype(float)
        ridge = Ridge(self.ridge_alpha, solver="sparse_cg", random_state=self.seed).fit(x, targets)
        self.weights = np.hstack([classifier.coef_.T, ridge.coef_.T])
        self.biases = np.r_[classifier.intercept_, ridge.intercept_]
        self.n_subjects = len(subjects)
        return self

    def transform(self, x: spmatrix) -> np.ndarray:
        logits = np.asarray(x @ self.weights) + self.biases
        subject_p = softmax(logits[:, : self.n_subjects])
        return np.c_[subject_p @ self.prior, logits[:, self.n_subjects :]]
