"""Fits the whole complexity model on labelled MMLU rows: TF-IDF heads, stack, combiner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from combine import Combiner
from combine import fit as fit_combiner
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import StratifiedKFold
from text_model import TextHeads, vectoriser

from mecroute.complexity.features import prompt_features
from mecroute.evaluation.dataset import Labelled

SUBJECT_ALPHA = 1e-5  # SGD L2 strength of the subject classifier
RIDGE_ALPHA = 3.0  # L2 strength of the gain and wrong-answer regressions
STACK_ALPHA = 1.0


@dataclass(frozen=True)
class Pipeline:
    vectoriser: TfidfVectorizer
    heads: TextHeads
    stack: Ridge
    combiner: Combiner
    out_of_fold_text: np.ndarray

    def text(self, prompts: Sequence[str]) -> np.ndarray:
        result: np.ndarray = self.stack.predict(
            self.heads.transform(self.vectoriser.transform(prompts))
        )
        return result

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        """The complexity of each prompt, as the ONNX graph computes it."""
        return self.combiner(self.text(prompts), features_of(prompts))


def features_of(prompts: Sequence[str]) -> np.ndarray:
    return np.array([prompt_features(p) for p in prompts])


def outcomes(rows: Sequence[Labelled]) -> tuple[np.ndarray, np.ndarray]:
    mec = np.array([r.mec_correct for r in rows], int)
    cloud = np.array([r.cloud_correct for r in rows], int)
    return mec, cloud


def subject_index(rows: Sequence[Labelled]) -> np.ndarray:
    subjects = sorted({r.subject for r in rows})
    return np.array([subjects.index(r.subject) for r in rows])


def fold_splits(
    subject: np.ndarray, gain: np.ndarray, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds stratified by subject and gain, so every fold holds each subject's mix."""
    strata = subject * 3 + gain + 1
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(strata, strata))


def fit(
    rows: Sequence[Labelled],
    max_features: int,
    folds: int,
    seed: int,
    log: Callable[[str], None] = print,
) -> Pipeline:
    """Heads out of fold (so the stack and combiner see honest inputs), then on all rows."""
    prompts = [r.prompt for r in rows]
    subject = subject_index(rows)
    mec, cloud = outcomes(rows)
    gain = cloud - mec
    vec = vectoriser(max_features)
    x = vec.fit_transform(prompts)
    splits = fold_splits(subject, gain, folds, seed)
    heads_out = np.zeros((len(rows), 6))
    for number, (fit_rows, held_out) in enumerate(splits, 1):
        heads = TextHeads(SUBJECT_ALPHA, RIDGE_ALPHA, seed)
        heads.fit(x[fit_rows], subject[fit_rows], mec[fit_rows], cloud[fit_rows])
        heads_out[held_out] = heads.transform(x[held_out])
        log(f"  heads, fold {number}/{folds}")
    text = np.zeros(len(rows))
    for fit_rows, held_out in splits:
        stack = Ridge(STACK_ALPHA).fit(heads_out[fit_rows], gain[fit_rows])
        text[held_out] = stack.predict(heads_out[held_out])
    log("  heads on all rows")
    heads = TextHeads(SUBJECT_ALPHA, RIDGE_ALPHA, seed).fit(x, subject, mec, cloud)
    stack = Ridge(STACK_ALPHA).fit(heads_out, gain)
    combiner = fit_combiner(text, features_of(prompts), mec == 0)
    return Pipeline(vec, heads, stack, combiner, text)
