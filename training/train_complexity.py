"""Train the complexity model the context agent runs: prompt in, complexity in [0, 1] out.

Reproducible (fixed seeds), trained on the train split of a routellm-mmlu directory only;
the test split is scored once, at the end, for the model card. `make train` runs it.

    .venv/bin/pip install -e '.[train]'
    .venv/bin/python training/train_complexity.py --data ../shared/data/routellm-mmlu [--transfer]

One ONNX graph, written to src/mecroute/complexity/complexity.onnx:

    prompt -> word 1-2-gram TF-IDF -> linear heads (subject softmax x per-subject averages,
              ridge on the gain, on P(MEC wrong), on P(cloud wrong)) -> ridge stack -> text score
    features (mecroute.complexity.features, computed in Python) --+
    multiple-choice prompts: logistic fitted on MMLU over the text score
    other prompts: cross-kind feature weights (training/combine.py); the text score is left out
    -> sigmoid -> complexity

--transfer also refits the whole model with MMLU subject groups left out (about 2 x the time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import transfer
from combine import PRIOR, TEXT_WEIGHT_OFF_MMLU
from export_onnx import export

import pipeline
from mecroute.complexity.features import FEATURES
from mecroute.complexity.model import CARD_FILE, MODEL_FILE, ComplexityModel
from mecroute.evaluation.dataset import read

# Spread and order checks printed and recorded at every run.
PROBES = {
    "hi, how are you": "small talk",
    "thanks!": "small talk",
    "What is the capital of France?": "one fact",
    "Translate 'good night' into German.": "short transformation",
    "Prove there are infinitely many primes.": "proof",
    "Write a Python function that merges overlapping intervals and explain its complexity.": "code",
    "A shop sells pens at $3 each and notebooks at $7 each. Ana buys twice as many pens as "
    "notebooks and spends $65. How many pens does she buy?": "word problem",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, default=MODEL_FILE.parent)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-features", type=int, default=10_000)
    parser.add_argument("--transfer", action="store_true", help="also leave subject groups out")
    args = parser.parse_args()
    # Stratifying by subject x gain leaves a few strata with fewer rows than folds; harmless.
    warnings.filterwarnings("ignore", message="The least populated class")
    started = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - started:5.0f} s] {message}", flush=True)

    train, test = read(args.data, "train"), read(args.data, "test")
    log(f"train {len(train)} rows, test {len(test)} (scored once, at the end)")
    model = pipeline.fit(train, args.max_features, args.folds, args.seed, log)
    cross_validated = transfer.summary(
        model.combiner(model.out_of_fold_text, pipeline.features_of([r.prompt for r in train])),
        train,
    )
    log(f"cross-validated on train: {transfer.line(cross_validated)}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / MODEL_FILE.name
    card_path = args.out_dir / CARD_FILE.name
    export(model, model_path)
    card: dict[str, Any] = {
        "model": model_path.name,
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "size_bytes": model_path.stat().st_size,
        "trained_on": f"{args.data.name} train split ({len(train)} prompts)",
        "features": list(FEATURES),
        "off_mmlu_feature_weights": PRIOR,
        "off_mmlu_text_weight_share": TEXT_WEIGHT_OFF_MMLU,
        "cross_validated_train": cross_validated,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    shipped = ComplexityModel(model_path, card_path)
    log(f"wrote {model_path} ({card['size_bytes'] / 1e6:.2f} MB)")

    test_prompts = [r.prompt for r in test]
    test_scores = shipped.complexities(test_prompts)
    card["onnx_vs_python_max_abs_diff"] = float(np.max(np.abs(test_scores - model(test_prompts))))
    card["test"] = transfer.summary(test_scores, test)
    log(f"test split: {transfer.line(card['test'])}")
    card["labelled"] = transfer.by_kind(shipped.complexities)
    for kind, result in card["labelled"].items():
        log(f"labelled {kind:<14} {transfer.line(result)}")
    card["spread"] = _spread(test_scores)
    card["probes"] = {
        prompt: {"kind": kind, "complexity": round(shipped.complexity(prompt), 4)}
        for prompt, kind in PROBES.items()
    }
    card["cpu_ms_per_prompt"] = _time_per_prompt(shipped, test_prompts[:500])
    log(f"{card['cpu_ms_per_prompt']:.3f} CPU ms per prompt (one thread, features included)")
    if args.transfer:
        card["leave_group_out"] = transfer.leave_groups_out(
            train, args.max_features, args.folds, args.seed, log
        )
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log(f"onnx vs python max |diff| {card['onnx_vs_python_max_abs_diff']:.1e}; wrote {card_path}")


def _spread(scores: np.ndarray) -> dict[str, Any]:
    _, counts = np.unique(np.round(scores, 4), return_counts=True)
    return {
        "percentiles_0_5_25_50_75_95_100": [
            round(float(v), 4) for v in np.percentile(scores, [0, 5, 25, 50, 75, 95, 100])
        ],
        "largest_share_of_one_value": round(float(counts.max() / len(scores)), 4),
    }


def _time_per_prompt(model: ComplexityModel, prompts: list[str]) -> float:
    """CPU ms per prompt (features included), one prompt per call as the context agent calls
    it; median of five passes. CPU time, not wall time: the figure holds on a shared machine."""
    runs = []
    for _ in range(5):
        started = time.process_time()
        for prompt in prompts:
            model.complexity(prompt)
        runs.append((time.process_time() - started) * 1000 / len(prompts))
    return round(float(np.median(runs)), 4)


if __name__ == "__main__":
    main()
