"""Train the complexity model the context agent runs: prompt text in, routing score out.

Reproducible (fixed seeds), trained on the train split of a directory in the routellm-mmlu
format only; the test split is scored once, at the end, for the model card.

    .venv/bin/pip install -e '.[train]'
    .venv/bin/python training/train_complexity.py --data ../shared/data/routellm-mmlu

One ONNX graph (string -> float), written to src/mecroute/complexity/complexity.onnx:

    word 1-2-gram TF-IDF (binary counts) -> four linear heads
        subject classifier (softmax) x per-subject train averages  -> 3 features
        E[cloud correct - MEC correct] (3-class logistic)          -> 1 feature
        P(MEC-class wrong), P(cloud-class wrong) (logistic)         -> 2 features
    -> ridge stack over the 6 features, fitted on out-of-fold head outputs -> score

The subject is a training label only: at run time the model sees nothing but the prompt.
calibration.json maps the score to P(MEC-class wrong), fitted by isotonic regression on the
out-of-fold scores; the router's accuracy model takes that probability as complexity.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import StringTensorType
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold

from mecroute.complexity.model import CALIBRATION_FILE, MODEL_FILE, ComplexityModel
from mecroute.evaluation.dataset import read
from mecroute.evaluation.router_metrics import RouterFigures, figures

# Checked after training: prompts unlike MMLU must get finite, varied scores.
UNLIKE_MMLU = [
    "hi",
    "thanks!",
    "what's the weather like",
    "hello, how are you?",
    "ok",
    "good morning",
    "Tom has 3 apples and buys 5 more. He gives 2 to his sister. How many apples does he have?",
    "A train travels 60 km/h for 2.5 hours, then 80 km/h for 1.5 hours. What is the distance?",
    "Sara earns $18 an hour for 7 hours a day, 5 days, and spends 40% on rent. What is left?",
    "A recipe needs 3/4 cup of sugar per batch. How many cups are needed for 6 batches?",
    "If 4 workers build a wall in 12 days, how many days would 6 workers take?",
]
# Self-written small talk labelled "both models right" (a pseudo-subject), so that greetings,
# whose TF-IDF vector is nearly empty, do not land on the intercept. Disjoint from the above.
SMALL_TALK = [
    "hey",
    "hello",
    "hello there",
    "hi!",
    "hey there!",
    "yo",
    "good evening",
    "good night",
    "bye",
    "see you later",
    "thank you",
    "thanks a lot",
    "thx",
    "ty",
    "cool",
    "great, thanks",
    "nice",
    "awesome!",
    "lol",
    "haha",
    "how's it going?",
    "what's up?",
    "how are you doing today?",
    "are you there?",
    "can you hear me?",
    "what time is it?",
    "what day is it today?",
    "is it going to rain tomorrow?",
    "tell me a joke",
    "who are you?",
    "what is your name?",
    "nice to meet you",
    "sorry",
    "no problem",
    "yes",
    "no",
    "sure",
    "please",
    "ok thanks",
    "alright",
    "sounds good",
    "good job",
    "I'm bored",
    "I'm hungry",
    "good afternoon",
    "what should I eat for lunch?",
    "play some music",
    "set a timer for 5 minutes",
    "remind me to call mom",
    "turn off the lights",
]


class Heads:
    """The four linear heads and the per-subject table, fitted on one set of rows."""

    def __init__(self, c_subject: float, c_gain: float, c_wrong: float, seed: int) -> None:
        self.options = {"max_iter": 3000, "random_state": seed}
        self.c_subject, self.c_gain, self.c_wrong = c_subject, c_gain, c_wrong

    def fit(self, x, subject, mec, cloud) -> Heads:  # type: ignore[no-untyped-def]
        gain = cloud - mec
        self.subject = LogisticRegression(C=self.c_subject, **self.options).fit(x, subject)
        self.prior = np.array(
            [
                [
                    gain[subject == s].mean(),
                    (1 - mec)[subject == s].mean(),
                    (1 - cloud)[subject == s].mean(),
                ]
                for s in self.subject.classes_
            ]
        )
        self.gain = LogisticRegression(C=self.c_gain, **self.options).fit(x, gain)
        self.mec_wrong = LogisticRegression(C=self.c_wrong, **self.options).fit(x, 1 - mec)
        self.cloud_wrong = LogisticRegression(C=self.c_wrong, **self.options).fit(x, 1 - cloud)
        return self

    def transform(self, x) -> np.ndarray:  # type: ignore[no-untyped-def]
        return np.c_[
            self.subject.predict_proba(x) @ self.prior,
            self.gain.predict_proba(x) @ self.gain.classes_,
            self.mec_wrong.predict_proba(x)[:, 1],
            self.cloud_wrong.predict_proba(x)[:, 1],
        ]


def export(vectoriser: TfidfVectorizer, heads: Heads, stack: Ridge, path: Path) -> None:
    """TF-IDF through skl2onnx, then the heads and the stack as plain ONNX operators."""
    model = convert_sklearn(
        vectoriser,
        "complexity",
        initial_types=[("prompt", StringTensorType([None, 1]))],
        # The C locale: the default asks onnxruntime for en_US.UTF-8, absent here and in Lambda.
        options={id(vectoriser): {"locale": "C"}},
        target_opset=17,
    )
    graph = model.graph
    tfidf = graph.output[0].name
    del graph.output[:]
    linear = [heads.subject, heads.gain, heads.mec_wrong, heads.cloud_wrong]
    weights = np.vstack([m.coef_ for m in linear]).T.astype(np.float32)
    biases = np.concatenate([m.intercept_ for m in linear]).astype(np.float32)
    n_subject, n_gain = heads.subject.coef_.shape[0], heads.gain.coef_.shape[0]
    constants = {
        "head_w": weights,
        "head_b": biases,
        "subject_prior": heads.prior.astype(np.float32),
        "gain_values": heads.gain.classes_.astype(np.float32).reshape(-1, 1),
        "stack_w": stack.coef_.astype(np.float32).reshape(-1, 1),
        "stack_b": np.array([stack.intercept_], np.float32),
        "at_0": np.array([0], np.int64),
        "at_subject_end": np.array([n_subject], np.int64),
        "at_gain_end": np.array([n_subject + n_gain], np.int64),
        "at_end": np.array([n_subject + n_gain + 2], np.int64),
        "axis_1": np.array([1], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    node = helper.make_node
    graph.node.extend(
        [
            node("MatMul", [tfidf, "head_w"], ["head_wx"]),
            node("Add", ["head_wx", "head_b"], ["logits"]),
            node("Slice", ["logits", "at_0", "at_subject_end", "axis_1"], ["subject_logits"]),
            node("Softmax", ["subject_logits"], ["subject_p"], axis=1),
            node("MatMul", ["subject_p", "subject_prior"], ["from_subject"]),
            node("Slice", ["logits", "at_subject_end", "at_gain_end", "axis_1"], ["gain_logits"]),
            node("Softmax", ["gain_logits"], ["gain_p"], axis=1),
            node("MatMul", ["gain_p", "gain_values"], ["expected_gain"]),
            node("Slice", ["logits", "at_gain_end", "at_end", "axis_1"], ["wrong_logits"]),
            node("Sigmoid", ["wrong_logits"], ["p_wrong"]),
            node("Concat", ["from_subject", "expected_gain", "p_wrong"], ["features"], axis=1),
            node("MatMul", ["features", "stack_w"], ["stack_wx"]),
            node("Add", ["stack_wx", "stack_b"], ["score"]),
        ]
    )
    graph.output.append(helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1]))
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def _as_dict(result: RouterFigures) -> dict[str, float | int | None]:
    return {
        "apgr": round(result.apgr, 4),
        "cpt50": result.cpt50,
        "cloud_share_for_95": result.cloud_share_for_95,
        "rows": result.rows,
    }


def _line(result: RouterFigures) -> str:
    return f"APGR {result.apgr:.3f} CPT50 {result.cpt50} 95%-share {result.cloud_share_for_95}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, default=MODEL_FILE.parent)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.time()
    train, test = read(args.data, "train"), read(args.data, "test")
    subjects = sorted({row.subject for row in train})
    prompts = [row.prompt for row in train] + SMALL_TALK
    mec = np.array([row.mec_correct for row in train] + [True] * len(SMALL_TALK), dtype=int)
    cloud = np.array([row.cloud_correct for row in train] + [True] * len(SMALL_TALK), dtype=int)
    subject = np.array(
        [subjects.index(row.subject) for row in train] + [len(subjects)] * len(SMALL_TALK)
    )
    is_mmlu = np.arange(len(prompts)) < len(train)
    gain = cloud - mec
    print(f"train {len(train)} (+{len(SMALL_TALK)} small talk), test {len(test)}", flush=True)

    # This token pattern and binary counts keep onnxruntime's TF-IDF bit-exact with sklearn's.
    vectoriser = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=10_000,
        token_pattern=r"[A-Za-z0-9]+",  # noqa: S106 - a regex, not a secret
        binary=True,
    )
    x = vectoriser.fit_transform(prompts)
    folds = list(
        StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(
            prompts, subject * 3 + gain + 1
        )
    )
    out_of_fold = np.zeros((len(prompts), 6))
    for number, (fit_rows, held_out) in enumerate(folds, 1):
        heads = Heads(10.0, 1.0, 1.0, args.seed).fit(
            x[fit_rows], subject[fit_rows], mec[fit_rows], cloud[fit_rows]
        )
        out_of_fold[held_out] = heads.transform(x[held_out])
        print(f"  fold {number}/{args.folds}", flush=True)
    stacked = np.zeros(len(prompts))
    for fit_rows, held_out in folds:
        stacked[held_out] = (
            Ridge(1.0).fit(out_of_fold[fit_rows], gain[fit_rows]).predict(out_of_fold[held_out])
        )
    cv = figures(stacked[is_mmlu], mec[is_mmlu], cloud[is_mmlu])
    print(f"cross-validated on train: {_line(cv)}")

    heads = Heads(10.0, 1.0, 1.0, args.seed).fit(x, subject, mec, cloud)
    stack = Ridge(1.0).fit(out_of_fold, gain)
    calibration = IsotonicRegression(out_of_bounds="clip", increasing="auto").fit(stacked, 1 - mec)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / MODEL_FILE.name
    export(vectoriser, heads, stack, model_path)
    card = {
        "model": model_path.name,
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "size_bytes": model_path.stat().st_size,
        "trained_on": (
            f"{args.data.name} train split ({len(train)} prompts)"
            f" + {len(SMALL_TALK)} small-talk lines"
        ),
        "calibration": {
            "maps": "score -> P(MEC-class model wrong), isotonic on out-of-fold train scores",
            "scores": [round(float(v), 6) for v in calibration.X_thresholds_],
            "probabilities": [round(float(v), 6) for v in calibration.y_thresholds_],
        },
        "cross_validated_train": _as_dict(cv),
    }
    (args.out_dir / CALIBRATION_FILE.name).write_text(json.dumps(card, indent=2) + "\n")

    shipped = ComplexityModel(model_path, args.out_dir / CALIBRATION_FILE.name)
    test_scores = np.array([shipped.score(row.prompt) for row in test])
    reference = (
        heads.transform(vectoriser.transform([row.prompt for row in test])) @ stack.coef_
        + stack.intercept_
    )
    result = figures(
        test_scores,
        np.array([r.mec_correct for r in test]),
        np.array([r.cloud_correct for r in test]),
    )
    card["test"] = _as_dict(result)
    card["onnx_vs_sklearn_max_abs_diff"] = float(np.max(np.abs(test_scores - reference)))
    unlike = {prompt: shipped.score(prompt) for prompt in UNLIKE_MMLU}
    card["unlike_mmlu"] = {
        prompt: {
            "score": round(score, 4),
            "test_percentile": round(float((test_scores < score).mean()), 3),
            "complexity": shipped.complexity(prompt),
        }
        for prompt, score in unlike.items()
    }
    (args.out_dir / CALIBRATION_FILE.name).write_text(json.dumps(card, indent=2) + "\n")
    print(f"test split: {_line(result)}")
    print(f"onnx vs sklearn max |diff| {card['onnx_vs_sklearn_max_abs_diff']:.2e}")
    print(
        f"{model_path} {card['size_bytes'] / 1e6:.2f} MB; trained in {time.time() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
