"""Router quality on labelled data, with the definitions of the routellm-mmlu README.

Prompts are sent to the cloud in descending score order. At each cloud-call fraction
0%, 1%, ..., 100% the accuracy is measured; PGR is the share of the MEC-to-cloud accuracy
gap recovered, APGR its average over the fractions, CPT(50%) the smallest fraction that
recovers half the gap, and the 95% share the smallest fraction reaching 95% of the cloud
model's accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRACTIONS = np.arange(101) / 100


@dataclass(frozen=True)
class RouterFigures:
    apgr: float
    cpt50: float | None
    cloud_share_for_95: float | None
    mec_accuracy: float
    cloud_accuracy: float
    rows: int


def accuracy_curve(scores: np.ndarray, mec: np.ndarray, cloud: np.ndarray) -> np.ndarray:
    """Accuracy at each fraction; ties keep input order (a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    gained = np.concatenate([[0.0], np.cumsum((cloud - mec)[order])])
    routed = np.floor(FRACTIONS * len(scores) + 0.5).astype(int)
    curve: np.ndarray = (mec.sum() + gained[routed]) / len(scores)
    return curve


def figures(
    scores: np.ndarray, mec_correct: np.ndarray, cloud_correct: np.ndarray
) -> RouterFigures:
    mec = mec_correct.astype(float)
    cloud = cloud_correct.astype(float)
    if len(mec) == 0:
        raise ValueError("no rows to evaluate")
    curve = accuracy_curve(np.asarray(scores, dtype=float), mec, cloud)
    gap = cloud.mean() - mec.mean()
    recovered = (curve - mec.mean()) / gap if gap else np.ones_like(curve)
    return RouterFigures(
        apgr=float(recovered.mean()),
        cpt50=_first(recovered >= 0.5 - 1e-12),
        cloud_share_for_95=_first(curve >= 0.95 * cloud.mean() - 1e-12),
        mec_accuracy=float(mec.mean()),
        cloud_accuracy=float(cloud.mean()),
        rows=len(mec),
    )


def _first(reached: np.ndarray) -> float | None:
    hits = np.nonzero(reached)[0]
    return float(FRACTIONS[hits[0]]) if len(hits) else None


def random_figures(
    mec: np.ndarray, cloud: np.ndarray, seed: int = 0, repeats: int = 20
) -> RouterFigures:
    """The average of `repeats` random routers: the floor any learned router must beat."""
    rng = np.random.default_rng(seed)
    runs = [figures(rng.random(len(mec)), mec, cloud) for _ in range(repeats)]
    return RouterFigures(
        apgr=float(np.mean([r.apgr for r in runs])),
        cpt50=_mean([r.cpt50 for r in runs]),
        cloud_share_for_95=_mean([r.cloud_share_for_95 for r in runs]),
        mec_accuracy=runs[0].mec_accuracy,
        cloud_accuracy=runs[0].cloud_accuracy,
        rows=len(mec),
    )


def oracle_figures(mec: np.ndarray, cloud: np.ndarray) -> RouterFigures:
    """Cloud only where only the cloud model is right."""
    return figures((cloud.astype(bool) & ~mec.astype(bool)).astype(float), mec, cloud)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if len(present) == len(values) else None
