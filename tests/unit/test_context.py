"""Context agent: request validation, personal data, complexity and device/network scores."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mecroute.adapters.memory import MemoryDecisionLog
from mecroute.agents import context as agent
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.messages import ContextAnalysis
from mecroute.domain.request import DeviceTelemetry, NetworkConditions

from .builders import NOW, past_record

VALID_CARD = "4111 1111 1111 1111"  # the well-known Luhn-valid test number
LUHN_INVALID_16 = "4111 1111 1111 1112"


def analyze(request: Any, history: MemoryDecisionLog | None = None) -> ContextAnalysis:
    return agent.analyze("req-1", request, history or MemoryDecisionLog(), NOW)


# -- validation ----------------------------------------------------------------------------------


def test_valid_request_is_analysed() -> None:
    analysis = analyze({"prompt": "What is the capital of France?"})

    assert analysis.request_id == "req-1"
    assert analysis.request.prompt == "What is the capital of France?"
    assert analysis.received_at == NOW
    assert analysis.complexity_source == "heuristic"
    assert len(analysis.prompt_sha256) == 64


def test_invalid_request_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        analyze({"prompt": "hi", "sla": {"max_latency_ms": 5}})

    assert [p["field"] for p in caught.value.problems] == ["sla.max_latency_ms"]


def test_empty_prompt_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as caught:
        analyze({"prompt": ""})

    assert caught.value.problems[0]["field"] == "prompt"


@pytest.mark.parametrize("body", [None, "hello", ["prompt", "hi"], 42])
def test_non_object_body_is_invalid_with_body_field(body: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        analyze(body)

    assert caught.value.problems == [{"field": "(body)", "problem": "must be a JSON object"}]


def test_recent_requests_counts_only_this_users_last_hour() -> None:
    # Given a history with two recent records for alice, one old one, and one for bob
    history = MemoryDecisionLog()
    history.put(past_record("a1", "alice", NOW - 60))
    history.put(past_record("a2", "alice", NOW - 3000))
    history.put(past_record("a3", "alice", NOW - 7200))
    history.put(past_record("b1", "bob", NOW - 60))

    # When alice sends a request
    analysis = analyze({"prompt": "hi", "user_id": "alice"}, history)

    # Then only her two requests from the last hour count
    assert analysis.recent_requests == 2


# -- task type and tokens ------------------------------------------------------------------------


def test_explicit_task_type_is_kept() -> None:
    assert analyze({"prompt": "translate this", "task_type": "code"}).task_type == "code"


@pytest.mark.parametrize(
    ("prompt", "task_type"),
    [
        ("Write a python function that reverses a list", "code"),
        ("Translate 'good morning' into German", "translation"),
        ("Summarise this article for me", "summarization"),
        ("Classify the sentiment of this review", "classification"),
        ("Compose a short poem about the sea", "generation"),
        ("What is the boiling point of water?", "qa"),
        ("hello there", "chat"),
    ],
)
def test_auto_task_type_is_inferred(prompt: str, task_type: str) -> None:
    assert analyze({"prompt": prompt}).task_type == task_type


def test_input_tokens_grow_with_the_prompt() -> None:
    short = analyze({"prompt": "hi"})
    long = analyze({"prompt": "hi " * 400})

    assert short.input_tokens >= 1
    assert long.input_tokens > short.input_tokens


def test_translation_expects_as_many_output_tokens_as_input() -> None:
    analysis = analyze({"prompt": "Translate into French: " + "the cat sat on the mat " * 20})

    assert analysis.task_type == "translation"
    assert analysis.output_tokens == analysis.input_tokens


def test_classification_expects_a_short_answer() -> None:
    classification = analyze({"prompt": "classify this", "task_type": "classification"})
    generation = analyze({"prompt": "classify this", "task_type": "generation"})

    assert classification.output_tokens < generation.output_tokens


# -- personal data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("mail me at jane.doe+work@example.co.uk please", "email"),
        ("call me on +44 20 7946 0958 tomorrow", "phone"),
        (f"my card is {VALID_CARD}", "card_number"),
        ("my card is 4111-1111-1111-1111.", "card_number"),
        ("pay to GB82WEST12345698765432 today", "iban"),
        ("my ssn is 078-05-1120", "us_ssn"),
    ],
)
def test_personal_data_is_detected(prompt: str, kind: str) -> None:
    assert kind in agent.detect_personal_data(prompt)


def test_luhn_invalid_16_digit_number_is_not_a_card() -> None:
    assert "card_number" not in agent.detect_personal_data(f"order number {LUHN_INVALID_16}")


def test_valid_card_after_an_invalid_one_is_still_found() -> None:
    prompt = f"old {LUHN_INVALID_16}, new {VALID_CARD}"

    assert "card_number" in agent.detect_personal_data(prompt)


def test_plain_prompt_has_no_personal_data() -> None:
    assert agent.detect_personal_data("What is the tallest mountain in Europe?") == []


def test_card_followed_by_more_digits_is_still_a_card() -> None:
    assert "card_number" in agent.detect_personal_data(f"card {VALID_CARD} 123 exp 12/29")


@pytest.mark.parametrize(
    "prompt",
    ["Summarise the news of 2024-01-15", "meeting on 15-01-2024", "about 1 000 000 people"],
)
def test_dates_and_round_numbers_are_not_personal_data(prompt: str) -> None:
    analysis = analyze({"prompt": prompt})

    assert analysis.personal_data == []
    assert analysis.effective_privacy == "none"


def test_personal_data_raises_privacy_from_none_to_regional() -> None:
    analysis = analyze({"prompt": "email me at jane@example.com", "privacy": "none"})

    assert analysis.personal_data == ["email"]
    assert analysis.request.privacy == "none"
    assert analysis.effective_privacy == "regional"


def test_personal_data_leaves_strict_privacy_strict() -> None:
    analysis = analyze({"prompt": "email me at jane@example.com", "privacy": "strict"})

    assert analysis.effective_privacy == "strict"


def test_personal_data_leaves_regional_privacy_regional() -> None:
    analysis = analyze({"prompt": "email me at jane@example.com", "privacy": "regional"})

    assert analysis.effective_privacy == "regional"


def test_no_personal_data_keeps_requested_privacy() -> None:
    assert analyze({"prompt": "hello"}).effective_privacy == "none"


# -- complexity ----------------------------------------------------------------------------------


HARD_PROMPT = (
    "Prove step by step that the integral of x^2 from 0 to 3 equals 9, then derive the "
    "general formula, explain why it holds, compare it with the numerical estimate 8.99 "
    "and evaluate the error: 3^3/3 = 9, 2.5*3.6 = 9.0, sqrt(81) = 9. "
) * 4


def test_hard_reasoning_prompt_is_more_complex_than_hi() -> None:
    easy = analyze({"prompt": "hi"})
    hard = analyze({"prompt": HARD_PROMPT})

    assert 0.0 <= easy.complexity < 0.2
    assert hard.complexity > 0.6
    assert hard.complexity <= 1.0


# -- device and network scores -------------------------------------------------------------------


def device(**fields: Any) -> DeviceTelemetry:
    return DeviceTelemetry(**fields)


def network(**fields: Any) -> NetworkConditions:
    return NetworkConditions(**fields)


def test_scores_land_in_the_unit_interval_for_defaults() -> None:
    analysis = analyze({"prompt": "hi"})

    assert 0.0 <= analysis.device_score <= 1.0
    assert 0.0 <= analysis.network_score <= 1.0


def test_flat_battery_device_scores_zero() -> None:
    assert agent.device_score(device(battery_pct=0, charging=False)) == 0.0


def test_charging_beats_a_low_battery() -> None:
    low = agent.device_score(device(battery_pct=10, charging=False))
    charging = agent.device_score(device(battery_pct=10, charging=True))

    assert charging > low


def test_npu_and_more_cores_raise_the_device_score() -> None:
    base = agent.device_score(device(cpu_cores=2))

    assert agent.device_score(device(cpu_cores=8)) > base
    assert agent.device_score(device(cpu_cores=2, has_npu=True)) > base


def test_higher_rtt_lowers_the_network_score() -> None:
    assert agent.network_score(network(rtt_ms=200)) < agent.network_score(network(rtt_ms=10))


def test_heavy_loss_lowers_the_network_score() -> None:
    assert agent.network_score(network(loss_pct=20)) < agent.network_score(network(loss_pct=0))


devices = st.builds(
    DeviceTelemetry,
    cpu_cores=st.integers(1, 128),
    memory_free_mb=st.integers(0, 1_048_576),
    battery_pct=st.floats(0, 100),
    charging=st.booleans(),
    has_npu=st.booleans(),
    has_gpu=st.booleans(),
)
networks = st.builds(
    NetworkConditions,
    rtt_ms=st.floats(0, 5000),
    bandwidth_mbps=st.floats(0.001, 100_000),
    jitter_ms=st.floats(0, 5000),
    loss_pct=st.floats(0, 100),
)


@settings(max_examples=200)
@given(telemetry=devices, more=st.floats(0, 100))
def test_device_score_is_bounded_and_not_lower_with_more_battery(
    telemetry: DeviceTelemetry, more: float
) -> None:
    fuller = telemetry.model_copy(update={"battery_pct": min(100.0, telemetry.battery_pct + more)})

    score = agent.device_score(telemetry)

    assert 0.0 <= score <= 1.0
    assert agent.device_score(fuller) >= score


@settings(max_examples=200)
@given(link=networks, extra_rtt=st.floats(0, 5000))
def test_network_score_is_bounded_and_not_higher_with_more_rtt(
    link: NetworkConditions, extra_rtt: float
) -> None:
    slower = link.model_copy(update={"rtt_ms": min(5000.0, link.rtt_ms + extra_rtt)})

    score = agent.network_score(link)

    assert 0.0 <= score <= 1.0
    assert agent.network_score(slower) <= score
