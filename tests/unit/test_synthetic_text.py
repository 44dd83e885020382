"""The simulated models' text: deterministic, cut at max_tokens, counted in tokens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mecroute.domain.synthetic_text import LONGEST_ANSWER, generate


def test_same_model_prompt_and_seed_give_the_same_answer_and_others_differ() -> None:
    first = generate("edge-small-v1", "What is the capital of France?", 200)

    assert generate("edge-small-v1", "What is the capital of France?", 200) == first
    assert generate("edge-large-v1", "What is the capital of France?", 200) != first
    assert generate("edge-small-v1", "What is the capital of France?", 200, seed=1) != first
    assert "edge-small-v1" in first.text
    assert "capital" in first.text or "france" in first.text


@given(prompt=st.text(min_size=1, max_size=200), max_tokens=st.integers(1, 2 * LONGEST_ANSWER))
def test_an_answer_never_passes_max_tokens_and_says_when_it_was_cut(
    prompt: str, max_tokens: int
) -> None:
    natural = generate("edge-small-v1", prompt, LONGEST_ANSWER)

    answer = generate("edge-small-v1", prompt, max_tokens)

    assert answer.output_tokens == len(answer.text.split()) <= max_tokens
    if max_tokens < natural.output_tokens:
        assert answer.finish_reason == "length"
        assert natural.text.startswith(answer.text)
    else:
        assert answer == natural
        assert answer.finish_reason == "stop"
