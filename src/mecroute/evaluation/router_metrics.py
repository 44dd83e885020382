"""Router quality on labelled data, with the definitions of the routellm-mmlu README.

Prompts are sent to the cloud in descending score order. At each cloud-call fraction
0%, 1%, ..., 100% the accuracy is measured; PGR is the share of the MEC-to-cloud accuracy
gap recovered, APGR its average over the fractions, CPT(50%) the smallest fraction that
recovers half the gap, and the 95% share the smallest fraction reaching 95% of the cloud
model's accuracy.

Tied scores are broken at random and the figures averaged over the draws. The average is
taken exactly rather than sampled: routing k of m tied prompts gains, in expectation over
the orders, k/m of the group's gain, so the curve is linear across a tie group. A constant
score is therefore exactly the random router, and no input order can flatter a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRACTIONS = np.arange(101) / 100
BOOTSTRAP_DRAWS = 1000


@dataclass(frozen=True)
class RouterFigures:
    apgr: float
    cpt50: float | None
    cloud_share_for_95: float | None
    mec_accuracy: float
    cloud_accuracy: float
    rows: int
    apgr_interval: tuple[float, float] | None = None


class _Ranked:
    """Rows sorted by descending score, with tie groups, ready for weighted (bootstrap) curves."""

    def __init__(self, scores: np.ndarray, mec: np.ndarray, cloud: np.ndarray) -> None:
        order = np.argsort(-scores, kind="stable")
        sorted_scores = scores[order]
        starts = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
        self.group = np.cumsum(starts) - 1  # tie group of each sorted row
        self.groups = int(self.group[-1]) + 1
        self.mec = mec[order]
        self.gain = (cloud - mec)[order]

    def curve(self, weights: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Expected accuracy at each fraction, MEC and cloud accuracy, for row weights."""
        total = weights.sum()
        group_weight = np.bincount(self.group, weights, self.groups)
        group_gain = np.bincount(self.group, weights * self.gain, self.groups)
        routed = np.floor(FRACTIONS * total + 0.5)
        # Linear within a tie group: the expected gain over every order of its rows.
        gained = np.interp(
            routed, np.r_[0, np.cumsum(group_weight)], np.r_[0, np.cumsum(group_gain)]
        )
        mec = float(weights @ self.mec) / total
        curve: np.ndarray = mec + gained / total
        return curve, mec, mec + float(group_gain.sum()) / total


def accuracy_curve(scores: np.ndarray, mec: np.ndarray, cloud: np.ndarray) -> np.ndarray:
    """Accuracy at each fraction, averaged over every order of tied scores."""
    ranked = _Ranked(np.asarray(scores, float), mec.astype(float), cloud.astype(float))
    return ranked.curve(np.ones(len(scores)))[0]


def _apgr(curve: np.ndarray, mec: float, cloud: float) -> float:
    gap = cloud - mec
    return float(((curve - mec) / gap).mean()) if gap else 1.0


def figures(
    scores: np.ndarray,
    mec_correct: np.ndarray,
    cloud_correct: np.ndarray,
    bootstrap: int = 0,
    seed: int = 0,
) -> RouterFigures:
    """The README's figures; with `bootstrap` > 0, also a percentile 95% interval for APGR."""
    mec = np.asarray(mec_correct, float)
    cloud = np.asarray(cloud_correct, float)
    if len(mec) == 0:
        raise ValueError("no rows to evaluate")
    ranked = _Ranked(np.asarray(scores, float), mec, cloud)
    curve, mec_accuracy, cloud_accuracy = ranked.curve(np.ones(len(mec)))
    gap = cloud_accuracy - mec_accuracy
    recovered = (curve - mec_accuracy) / gap if gap else np.ones_like(curve)
    interval = None
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = [
            _apgr(*ranked.curve(rng.multinomial(len(mec), np.full(len(mec), 1 / len(mec)))))
            for _ in range(bootstrap)
        ]
        low, high = np.percentile(draws, [2.5, 97.5])
        interval = (float(low), float(high))
    return RouterFigures(
        apgr=float(recovered.mean()),
        cpt50=_first(recovered >= 0.5 - 1e-12),
        cloud_share_for_95=_first(curve >= 0.95 * cloud_accuracy - 1e-12),
        mec_accuracy=mec_accuracy,
        cloud_accuracy=cloud_accuracy,
        rows=len(mec),
        apgr_interval=interval,
    )


def _first(reached: np.ndarray) -> float | None:
    hits = np.nonzero(reached)[0]
    return float(FRACTIONS[hits[0]]) if len(hits) else None


def random_figures(mec: np.ndarray, cloud: np.ndarray) -> RouterFigures:
    """The random router, exactly: one score for every prompt, so every order is averaged."""
    return figures(np.zeros(len(mec)), mec, cloud)


def oracle_figures(mec: np.ndarray, cloud: np.ndarray) -> RouterFigures:
    """Cloud only where only the cloud model is right."""
    return figures((cloud.astype(bool) & ~mec.astype(bool)).astype(float), mec, cloud)
