"""Text-score variants tried beside the shipped one (issue 15), on the MMLU train split only.

Each variant adds heads to the shipped four, is stacked out of fold as the shipped stack is,
and is scored once on the test split. Prints APGR with its bootstrap 95% interval,
cross-validated on train and on test (docs/complexity-model.md, "Tried and not kept").

    .venv/bin/python training/variants.py --data ../shared/data/routellm-mmlu
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import transfer
from scipy.sparse import spmatrix
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import normalize
from text_model import TextHeads, vectoriser

import pipeline
from mecroute.evaluation.dataset import read

# A head: (fitted rows' TF-IDF, their gain, their subject, rows to score) -> columns.
Head = Callable[[spmatrix, np.ndarray, np.ndarray, spmatrix], np.ndarray]
NEIGHBOURS = 100


def nearest_gain(x_fit: spmatrix, gain: np.ndarray, _: np.ndarray, x_out: spmatrix) -> np.ndarray:
    """The similarity-weighted gain of the NEIGHBOURS most similar fitted prompts (cosine).
    Not shippable as it stands: the graph would have to hold every training prompt's vector."""
    fit, out = normalize(x_fit), normalize(x_out)
    result = np.empty(out.shape[0])
    for start in range(0, out.shape[0], 1000):
        similarity = (out[start : start + 1000] @ fit.T).toarray()
        nearest = np.argpartition(-similarity, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
        weight = np.take_along_axis(similarity, nearest, 1)
        result[start : start + 1000] = (gain[nearest] * weight).sum(1) / np.maximum(
            weight.sum(1), 1e-9
        )
    return result[:, None]


def gain_sign_logits(
    x_fit: spmatrix, gain: np.ndarray, _: np.ndarray, x_out: spmatrix
) -> np.ndarray:
    """Logistic regressions for 'only the cloud model is right' and 'only the MEC one is'."""
    return np.column_stack(
        [
            LogisticRegression(C=1.0, max_iter=300)
            .fit(x_fit, sign * gain > 0)
            .decision_function(x_out)
            for sign in (1, -1)
        ]
    )


def within_subject(
    x_fit: spmatrix, gain: np.ndarray, subject: np.ndarray, x_out: spmatrix
) -> np.ndarray:
    """A ridge on the gain less its subject's mean: an order inside subjects."""
    means = {s: gain[subject == s].mean() for s in np.unique(subject)}
    residual = gain - np.array([means[s] for s in subject])
    result: np.ndarray = Ridge(10.0).fit(x_fit, residual).predict(x_out)
    return result[:, None]


VARIANTS: dict[str, tuple[Head, ...]] = {
    "shipped heads": (),
    f"+ nearest-neighbour gain (k={NEIGHBOURS})": (nearest_gain,),
    "+ logistic heads on the gain's sign": (gain_sign_logits,),
    "+ within-subject residual ridge": (within_subject,),
    "+ all three": (nearest_gain, gain_sign_logits, within_subject),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = read(args.data, "train"), read(args.data, "test")
    subject = pipeline.subject_index(train)
    mec, cloud = pipeline.outcomes(train)
    gain = cloud - mec
    vec = vectoriser(10_000)
    x, x_test = (
        vec.fit_transform([r.prompt for r in train]),
        vec.transform([r.prompt for r in test]),
    )
    splits = pipeline.fold_splits(subject, gain, args.folds, args.seed)
    everything = np.arange(len(train))

    def shipped(fit: np.ndarray, x_out: spmatrix) -> np.ndarray:
        heads = TextHeads(pipeline.SUBJECT_ALPHA, pipeline.RIDGE_ALPHA, args.seed)
        return heads.fit(x[fit], subject[fit], mec[fit], cloud[fit]).transform(x_out)

    def columns(
        head: Callable[[np.ndarray, spmatrix], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out of fold on train, and fitted on all of train for the test split."""
        parts = [(held, head(fit, x[held])) for fit, held in splits]
        out_of_fold = np.zeros((len(train), parts[0][1].shape[1]))
        for held, part in parts:
            out_of_fold[held] = part
        return out_of_fold, head(everything, x_test)

    cached = {"shipped": columns(shipped)}
    for heads in VARIANTS.values():
        for extra in heads:
            if extra.__name__ not in cached:
                cached[extra.__name__] = columns(
                    lambda fit, x_out, extra=extra: extra(x[fit], gain[fit], subject[fit], x_out)
                )
    for name, heads in VARIANTS.items():
        chosen = [cached["shipped"]] + [cached[h.__name__] for h in heads]
        out_of_fold = np.hstack([c[0] for c in chosen])
        on_test = np.hstack([c[1] for c in chosen])
        cross_validated = np.zeros(len(train))
        for fit, held in splits:
            stack = Ridge(pipeline.STACK_ALPHA).fit(out_of_fold[fit], gain[fit])
            cross_validated[held] = stack.predict(out_of_fold[held])
        scores = Ridge(pipeline.STACK_ALPHA).fit(out_of_fold, gain).predict(on_test)
        print(name)
        print(f"  train, CV:  {transfer.line(transfer.summary(cross_validated, train))}")
        print(f"  test split: {transfer.line(transfer.summary(scores, test))}", flush=True)


if __name__ == "__main__":
    main()
