"""The shipped complexity model: output range, spread, sensible order, size and feature shape."""

from pathlib import Path

import numpy as np
import pytest

from mecroute.complexity.features import FEATURES, prompt_features
from mecroute.complexity.model import MODEL_FILE, ComplexityModel, shipped
from mecroute.evaluation import dataset
from mecroute.evaluation.router_metrics import figures

LABELLED = Path(__file__).resolve().parents[2] / "training" / "labelled"

VARIED = [
    "hi",
    "hi, how are you",
    "thanks!",
    "good morning",
    "What is the capital of France?",
    "Translate 'see you tomorrow' into Italian.",
    "Write a haiku about the sea.",
    "Give me three tips for sleeping better.",
    "Summarize this paragraph in one sentence: The council approved the new park on Monday.",
    "Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A train travels 60 km/h for 2.5 hours, then 80 km/h for 1.5 hours. What is the distance?",
    "Prove there are infinitely many primes.",
    "Prove that the square root of 2 is irrational.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Implement an LRU cache in Python with O(1) operations and explain the design.",
    "Design a distributed rate limiter for a multi-region API and analyze the trade-offs.",
    "Write a SQL query that finds the second highest salary per department.",
    "Explain the difference between TCP and UDP.",
    "Write a 500-word essay on the history of the printing press.",
    "What is 17 * 23?",
    "If 3x + 7 = 22, what is x?",
    "Which planet is closest to the sun?\nA. Venus\nB. Mercury\nC. Mars\nD. Earth\nAnswer:",
    "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer:",
    "Write a story about a dragon in exactly 50 words, each sentence starting with D.",
]


@pytest.fixture(scope="module")
def model() -> ComplexityModel:
    return shipped()


# Long prompts shaped to make a backtracking regex go quadratic (each took minutes before the
# feature patterns were made linear); here they must simply come back with valid features.
ADVERSARIAL = [
    "\n" * 50_000,
    "9" * 50_000,
    "A. x B. y C. z " * 3_000,
    "1.1." * 10_000,
    "```\n" * 5_000,
    "x" * 20_000,
]


def test_features_have_one_value_in_0_1_per_name():
    for prompt in [*VARIED, "", *ADVERSARIAL]:
        values = prompt_features(prompt)
        assert len(values) == len(FEATURES)
        assert all(0.0 <= v <= 1.0 for v in values), (prompt[:40], values)


def test_options_on_one_line_or_on_their_own_lines_are_multiple_choice():
    choices = FEATURES.index("multiple_choice")
    on_lines = "Which is a prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer:"
    inline = "Which is a prime? A. 4 B. 6 C. 7 D. 9 Answer:"
    assert prompt_features(on_lines)[choices] == 1.0
    assert prompt_features(inline)[choices] == 1.0
    assert prompt_features("Plan A. Then plan B. Then D. ")[choices] == 0.0
    assert prompt_features("A. " + "x" * 1000 + " B. y C. z D. w")[choices] == 0.0


def test_the_graph_takes_the_features_this_code_computes(model):
    shapes = {item.name: item.shape for item in model.session.get_inputs()}
    assert shapes["features"][1] == len(FEATURES)
    assert model.card["features"] == list(FEATURES)


def test_complexity_is_a_likelihood_for_any_prompt(model):
    for prompt in [*VARIED, "", " ", "ü" * 300, "word " * 5000]:
        value = model.complexity(prompt)
        assert 0.0 <= value <= 1.0
        assert np.isfinite(value)


def test_scores_are_spread_not_collapsed_onto_a_floor(model):
    scores = np.round(model.complexities(VARIED), 4)
    _, counts = np.unique(scores, return_counts=True)
    # no single value holds more than a small share of a varied prompt set
    assert counts.max() <= 2
    assert scores.max() - scores.min() > 0.3


def test_a_proof_scores_above_small_talk(model):
    primes = model.complexity("Prove there are infinitely many primes")
    assert primes > model.complexity("hi, how are you") + 0.1
    assert primes > model.complexity("thanks!")
    assert model.complexity(
        "Implement an LRU cache in Python with O(1) operations and explain the design."
    ) > model.complexity("What is the capital of France?")


def test_one_call_for_many_prompts_equals_one_call_each(model):
    together = model.complexities(VARIED)
    assert together == pytest.approx([model.complexity(p) for p in VARIED], abs=1e-6)


def test_labelled_prompts_that_need_the_cloud_score_higher_on_average(model):
    # monotone-ish: prompts only the cloud-class model answers score above those both answer
    rows = dataset.read(LABELLED, "all")
    scores = model.complexities([r.prompt for r in rows])
    needs_cloud = np.array([r.cloud_correct and not r.mec_correct for r in rows])
    both_right = np.array([r.cloud_correct and r.mec_correct for r in rows])
    assert scores[needs_cloud].mean() > scores[both_right].mean() + 0.05
    mec = np.array([r.mec_correct for r in rows])
    cloud = np.array([r.cloud_correct for r in rows])
    assert figures(scores, mec, cloud).apgr > 0.55


def test_model_fits_the_size_budget():
    assert MODEL_FILE.stat().st_size <= 5_000_000
