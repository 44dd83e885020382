"""InferenceRequest validation: defaults, limits and the field names reported to callers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mecroute.domain.errors import InvalidRequest, field_problems
from mecroute.domain.request import (
    MAX_PROMPT_BYTES,
    MAX_PROMPT_CHARS,
    CriterionWeights,
    InferenceRequest,
)


def problems_for(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        InferenceRequest.model_validate(body)
    return field_problems(caught.value)


def fields_for(body: dict[str, Any]) -> set[str]:
    return {problem["field"] for problem in problems_for(body)}


def test_prompt_alone_is_a_valid_request_with_documented_defaults() -> None:
    request = InferenceRequest.model_validate({"prompt": "hello"})

    assert request.prompt == "hello"
    assert request.task_type == "auto"
    assert request.privacy == "none"
    assert request.user_id == "anonymous"
    assert request.weights is None
    assert request.model_preference is None
    assert request.idempotency_key is None
    assert (request.sla.max_latency_ms, request.sla.min_accuracy, request.sla.max_cost_usd) == (
        3000,
        0.0,
        0.05,
    )
    assert request.network.radio == "5g"
    assert request.network.rtt_ms == 20.0
    assert request.device.battery_pct == 80.0
    assert request.device.installed_models == []
    assert request.device.region is None


def test_missing_prompt_is_named() -> None:
    assert fields_for({}) == {"prompt"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "hi", "colour": "blue"}, "colour"),
        ({"prompt": "hi", "sla": {"max_latency": 100}}, "sla.max_latency"),
        ({"prompt": "hi", "device": {"gpu": True}}, "device.gpu"),
        ({"prompt": "hi", "weights": {"speed": 1.0}}, "weights.speed"),
    ],
)
def test_unknown_fields_are_rejected_by_dotted_name(body: dict[str, Any], field: str) -> None:
    assert field in fields_for(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sla": {"max_latency_ms": 5}}, "sla.max_latency_ms"),
        ({"sla": {"max_latency_ms": 60_001}}, "sla.max_latency_ms"),
        ({"sla": {"min_accuracy": 1.5}}, "sla.min_accuracy"),
        ({"sla": {"max_cost_usd": -0.01}}, "sla.max_cost_usd"),
        ({"network": {"loss_pct": 101}}, "network.loss_pct"),
        ({"network": {"rtt_ms": -1}}, "network.rtt_ms"),
        ({"network": {"bandwidth_mbps": 0}}, "network.bandwidth_mbps"),
        ({"network": {"radio": "carrier-pigeon"}}, "network.radio"),
        ({"device": {"battery_pct": 100.5}}, "device.battery_pct"),
        ({"device": {"cpu_cores": 0}}, "device.cpu_cores"),
        ({"privacy": "secret"}, "privacy"),
        ({"task_type": "poetry"}, "task_type"),
        ({"user_id": "has spaces"}, "user_id"),
        ({"device": {"installed_models": ["ok", "not ok"]}}, "device.installed_models.1"),
    ],
)
def test_out_of_range_values_are_rejected_and_named(body: dict[str, Any], field: str) -> None:
    assert fields_for({"prompt": "hi", **body}) == {field}


def test_boundary_values_are_accepted() -> None:
    request = InferenceRequest.model_validate(
        {
            "prompt": "x",
            "sla": {"max_latency_ms": 10, "min_accuracy": 1.0, "max_cost_usd": 0},
            "network": {"loss_pct": 100, "rtt_ms": 0},
            "device": {"battery_pct": 0, "memory_free_mb": 0},
        }
    )

    assert request.sla.max_latency_ms == 10
    assert request.network.loss_pct == 100


@pytest.mark.parametrize("prompt", ["", " ", "   \n\t  ", "\u00a0\u2003"])
def test_empty_or_whitespace_only_prompt_is_rejected(prompt: str) -> None:
    assert fields_for({"prompt": prompt}) == {"prompt"}


def test_prompt_with_nul_character_is_rejected() -> None:
    problems = problems_for({"prompt": "hello\x00world"})

    assert [p["field"] for p in problems] == ["prompt"]
    assert "NUL" in problems[0]["problem"]


def test_prompt_of_exactly_max_chars_is_accepted() -> None:
    request = InferenceRequest.model_validate({"prompt": "a" * MAX_PROMPT_CHARS})

    assert len(request.prompt) == MAX_PROMPT_CHARS


@pytest.mark.parametrize(
    ("prompt", "valid"),
    [
        ("a" * MAX_PROMPT_CHARS, True),
        ('"\n' * (MAX_PROMPT_CHARS // 2), True),  # escaped to two bytes each: 32,000
        ("\u00e9" * (MAX_PROMPT_BYTES // 6), True),
        ("\u00e9" * (MAX_PROMPT_BYTES // 6 + 1), False),
        ("\U0001f600" * MAX_PROMPT_CHARS, False),  # the 16,000 emoji that overflowed a state
    ],
)
def test_the_prompt_is_bounded_by_its_bytes_as_json(prompt: str, valid: bool) -> None:
    if valid:
        assert InferenceRequest.model_validate({"prompt": prompt}).prompt == prompt
        return
    (problem,) = problems_for({"prompt": prompt})
    assert problem["field"] == "prompt"
    assert f"over the {MAX_PROMPT_BYTES:,} allowed" in problem["problem"]


def test_prompt_over_max_chars_is_rejected() -> None:
    assert fields_for({"prompt": "a" * (MAX_PROMPT_CHARS + 1)}) == {"prompt"}


def test_every_bad_field_is_reported_at_once() -> None:
    # Given a request with three independent problems
    body = {"prompt": "hi", "sla": {"max_latency_ms": 5}, "network": {"loss_pct": 101}, "x": 1}

    # Then each one is named, not just the first
    assert fields_for(body) == {"sla.max_latency_ms", "network.loss_pct", "x"}


def test_invalid_request_error_carries_problems_as_json() -> None:
    with pytest.raises(ValidationError) as caught:
        InferenceRequest.model_validate({"prompt": "hi", "sla": {"max_latency_ms": 5}})

    error = InvalidRequest.from_validation_error(caught.value)

    assert error.problems[0]["field"] == "sla.max_latency_ms"
    assert '"sla.max_latency_ms"' in str(error)
    assert error.http_status == 400


def test_request_is_immutable() -> None:
    request = InferenceRequest.model_validate({"prompt": "hi"})

    with pytest.raises(ValidationError):
        request.prompt = "changed"  # type: ignore[misc]


def test_all_zero_weights_are_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one weight must be positive"):
        CriterionWeights(latency=0, accuracy=0, cost=0, availability=0)


def test_all_zero_weights_inside_a_request_are_named() -> None:
    body = {"prompt": "hi", "weights": {"latency": 0, "accuracy": 0, "cost": 0, "availability": 0}}

    assert fields_for(body) == {"weights"}


def test_default_weights_are_40_30_20_10() -> None:
    weights = CriterionWeights()

    assert (weights.latency, weights.accuracy, weights.cost, weights.availability) == (
        0.4,
        0.3,
        0.2,
        0.1,
    )


def test_normalised_keeps_proportions() -> None:
    weights = CriterionWeights(latency=1.0, accuracy=1.0, cost=0.0, availability=0.0).normalised()

    assert weights.latency == pytest.approx(0.5)
    assert weights.accuracy == pytest.approx(0.5)
    assert weights.cost == 0.0


weight = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=200)
@given(latency=weight, accuracy=weight, cost=weight, availability=weight)
def test_normalised_weights_sum_to_one(
    latency: float, accuracy: float, cost: float, availability: float
) -> None:
    total = latency + accuracy + cost + availability
    try:
        weights = CriterionWeights(
            latency=latency, accuracy=accuracy, cost=cost, availability=availability
        )
    except ValidationError:
        assert total <= 0
        return

    normalised = weights.normalised()

    parts = [normalised.latency, normalised.accuracy, normalised.cost, normalised.availability]
    assert math.isclose(sum(parts), 1.0, rel_tol=1e-9)
    assert all(0.0 <= part <= 1.0 for part in parts)
