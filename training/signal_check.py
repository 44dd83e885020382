"""Where the MMLU routing signal lies: subject, or something that carries to other prompts.

Prints three checks behind the model card's "Known weaknesses" (issue 15):

1. Subject-only routers on the test split: the per-subject average gain taken from the train
   split (a real router), and taken from the test split itself (not a router: the most any
   subject-only score can reach on these rows).
2. The shipped model within each subject: APGR on each subject's test rows, averaged.
3. Each cross-kind feature alone, per MMLU subject group (train split): a feature that carried
   a difficulty signal across subjects would lie on the same side of 0.5 in every group.

    .venv/bin/python training/signal_check.py --data ../shared/data/routellm-mmlu
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from subject_groups import group

from mecroute.complexity.features import FEATURES
from mecroute.complexity.model import shipped
from mecroute.evaluation.dataset import Labelled, read
from mecroute.evaluation.router_metrics import figures
from pipeline import features_of, outcomes

GROUPS = ("stem", "humanities", "social_sciences", "other")


def apgr(scores: np.ndarray, rows: Sequence[Labelled]) -> float:
    return figures(scores, *outcomes(rows)).apgr


def subject_gain(rows: Sequence[Labelled]) -> dict[str, float]:
    mec, cloud = outcomes(rows)
    subjects = np.array([r.subject for r in rows])
    return {s: float((cloud - mec)[subjects == s].mean()) for s in set(subjects)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    train, test = read(args.data, "train"), read(args.data, "test")

    from_train, from_test = subject_gain(train), subject_gain(test)
    print("1. subject-only routers, test split")
    print(f"   prior from train: {apgr(np.array([from_train[r.subject] for r in test]), test):.3f}")
    print(f"   prior from test:  {apgr(np.array([from_test[r.subject] for r in test]), test):.3f}")

    scores = shipped().complexities([r.prompt for r in test])
    within = []
    for subject in sorted(from_test):
        chosen = [i for i, r in enumerate(test) if r.subject == subject]
        rows = [test[i] for i in chosen]
        mec, cloud = outcomes(rows)
        if (cloud - mec).sum() > 0:  # APGR needs a gap to recover
            within.append(apgr(scores[chosen], rows))
    print(f"2. shipped model within a subject: mean APGR {np.mean(within):.3f} over {len(within)}")

    print("3. each feature alone, train split, per subject group")
    print(f"   {'feature':<16}" + "".join(f"{g:>17}" for g in GROUPS))
    features = features_of([r.prompt for r in train])
    members = {g: [i for i, r in enumerate(train) if group(r.subject) == g] for g in GROUPS}
    for column, name in enumerate(FEATURES):
        values = [
            apgr(features[chosen, column], [train[i] for i in chosen])
            for chosen in members.values()
        ]
        print(f"   {name:<16}" + "".join(f"{v:>17.3f}" for v in values))


if __name__ == "__main__":
    main()
