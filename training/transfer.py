"""Transfer checks: leave MMLU subject groups out, and the self-written prompts of other kinds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from subject_groups import group

import pipeline
from mecroute.evaluation.dataset import Labelled, read
from mecroute.evaluation.router_metrics import figures

LABELLED_DIR = Path(__file__).parent / "labelled"
# (trained on, tested on): the held-out group's rows, both splits, are never seen in training.
LEAVE_OUT = (
    (("humanities", "social_sciences"), ("stem",)),
    (("stem",), ("humanities", "social_sciences")),
)


def summary(scores: np.ndarray, rows: Sequence[Labelled], bootstrap: int = 1000) -> dict[str, Any]:
    """APGR with its bootstrap 95% interval, and prompt length's APGR on the same rows."""
    mec, cloud = pipeline.outcomes(rows)
    ours = figures(scores, mec, cloud, bootstrap)
    length = figures(np.array([len(r.prompt) for r in rows], float), mec, cloud)
    assert ours.apgr_interval is not None
    return {
        "rows": len(rows),
        "apgr": round(ours.apgr, 4),
        "apgr_95": [round(v, 4) for v in ours.apgr_interval],
        "cpt50": ours.cpt50,
        "prompt_length_apgr": round(length.apgr, 4),
    }


def leave_groups_out(
    rows: Sequence[Labelled], max_features: int, folds: int, seed: int, log: Callable[[str], None]
) -> dict[str, Any]:
    results = {}
    for trained_on, tested_on in LEAVE_OUT:
        name = f"{'+'.join(trained_on)} -> {'+'.join(tested_on)}"
        log(f"leave-group-out: {name}")
        fit_rows = [r for r in rows if group(r.subject) in trained_on]
        held_out = [r for r in rows if group(r.subject) in tested_on]
        model = pipeline.fit(fit_rows, max_features, folds, seed, log)
        results[name] = summary(model([r.prompt for r in held_out]), held_out)
        log(f"  {line(results[name])}")
    return results


def by_kind(
    score: Callable[[list[str]], np.ndarray], directory: Path = LABELLED_DIR
) -> dict[str, Any]:
    """Figures on the self-written prompts, all together and per kind (file)."""
    rows = read(directory, "all")
    scores = score([r.prompt for r in rows])
    kinds = sorted({r.subject for r in rows})
    result = {"all": summary(scores, rows)}
    for kind in kinds:
        chosen = np.array([r.subject == kind for r in rows])
        result[kind] = summary(scores[chosen], [r for r in rows if r.subject == kind])
    return result


def line(result: dict[str, Any]) -> str:
    low, high = result["apgr_95"]
    return (
        f"APGR {result['apgr']:.3f} [{low:.3f}, {high:.3f}] on {result['rows']} rows "
        f"(prompt length {result['prompt_length_apgr']:.3f})"
    )
