"""The draft-4 request schemas API Gateway validates with, generated from the pydantic models:
self-contained, valid draft 4, and in agreement with pydantic on what a request may be."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import BaseModel, Field, ValidationError

from mecroute.domain.feedback import Feedback
from mecroute.domain.request import InferenceRequest
from mecroute.domain.schema import DRAFT4, UnsupportedSchema, api_gateway_schema, to_draft4

REQUEST_SCHEMA = api_gateway_schema(InferenceRequest)
REQUEST_VALIDATOR = Draft4Validator(REQUEST_SCHEMA)


def gateway_accepts(body: Any) -> bool:
    return REQUEST_VALIDATOR.is_valid(body)


def pydantic_accepts(body: Any, model: type[BaseModel] = InferenceRequest) -> bool:
    try:
        # strict: JSON bodies carry real numbers and booleans; lax coercion ("10" -> 10) is
        # something API Gateway's validator rightly refuses.
        model.model_validate(body, strict=True)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("model", [InferenceRequest, Feedback])
def test_schema_is_self_contained_valid_draft4(model: type[BaseModel]):
    schema = api_gateway_schema(model)
    Draft4Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT4
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "$defs" not in text


FULL_REQUEST = {
    "prompt": "Summarise this paragraph.",
    "task_type": "summarization",
    "sla": {"max_latency_ms": 200, "min_accuracy": 0.6, "max_cost_usd": 0.01},
    "privacy": "regional",
    "device": {"cpu_cores": 8, "has_npu": True, "installed_models": ["tinytext-device-v1"],
               "region": "eu-west-1"},
    "network": {"radio": "5g", "rtt_ms": 18.0, "bandwidth_mbps": 120.5},
    "weights": {"latency": 0.5, "accuracy": 0.5, "cost": 0.0, "availability": 0.0},
    "user_id": "alice",
    "idempotency_key": "req-42",
}  # fmt: skip
CASES = {
    "minimal": {"prompt": "hi"},
    "full": FULL_REQUEST,
    "weights null": {"prompt": "hi", "weights": None},
    "no prompt": {"task_type": "qa"},
    "empty prompt": {"prompt": ""},
    "prompt too long": {"prompt": "x" * 16_001},
    "unknown field": {"prompt": "hi", "temperature": 0.2},
    "unknown nested field": {"prompt": "hi", "sla": {"max_latency_ms": 100, "p99": 1}},
    "bad privacy": {"prompt": "hi", "privacy": "secret"},
    "latency budget too small": {"prompt": "hi", "sla": {"max_latency_ms": 5}},
    "latency budget not integer": {"prompt": "hi", "sla": {"max_latency_ms": 100.5}},
    "zero bandwidth (exclusive bound)": {"prompt": "hi", "network": {"bandwidth_mbps": 0}},
    "too many installed models": {"prompt": "hi",
                                  "device": {"installed_models": [f"m{i}" for i in range(33)]}},
    "bad user id": {"prompt": "hi", "user_id": "no spaces allowed"},
    "weights with extra key": {"prompt": "hi", "weights": {"latency": 1, "speed": 1}},
    "body is a list": [{"prompt": "hi"}],
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_gateway_and_pydantic_agree(name: str):
    body = CASES[name]
    assert gateway_accepts(body) == pydantic_accepts(body), name


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "   "},
        {"prompt": "nul \x00 inside"},
        {"prompt": "hi", "weights": {"latency": 0, "accuracy": 0, "cost": 0, "availability": 0}},
    ],
    ids=["whitespace prompt", "NUL in prompt", "all weights zero"],
)
def test_what_only_python_validators_catch_passes_the_gateway(body: dict[str, Any]):
    """Field validators have no JSON-schema form: the context agent answers InvalidRequest (400)."""
    assert gateway_accepts(body)
    assert not pydantic_accepts(body)


def test_feedback_schema_agrees_with_pydantic():
    validator = Draft4Validator(api_gateway_schema(Feedback))
    for body in (
        {"request_id": "abc-1", "rating": 5},
        {"request_id": "abc-1", "rating": 6},
        {"request_id": "abc-1", "rating": 3, "correct": None, "comment": "x" * 1001},
        {"rating": 3},
        {"request_id": "has space", "rating": 3},
        {"request_id": "abc-1", "rating": 3, "observed_latency_ms": -1},
    ):
        assert validator.is_valid(body) == pydantic_accepts(body, Feedback), body


# Bodies mixing valid and invalid values for every field, to probe agreement broadly.
_values = {
    "prompt": st.one_of(st.text(min_size=1, max_size=40).filter(str.strip), st.just(""),
                        st.integers()),
    "task_type": st.sampled_from(["auto", "qa", "code", "poetry", 3]),
    "privacy": st.sampled_from(["none", "regional", "strict", "public"]),
    "user_id": st.from_regex(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,10}$", fullmatch=True)
               | st.just("a b"),
    "sla": st.fixed_dictionaries({}, optional={
        "max_latency_ms": st.integers(-5, 70_000) | st.floats(0, 100, allow_nan=False),
        "min_accuracy": st.floats(-0.5, 1.5, allow_nan=False),
        "max_cost_usd": st.floats(-1, 11, allow_nan=False),
    }),
    "network": st.fixed_dictionaries({}, optional={
        "radio": st.sampled_from(["5g", "lte", "wifi", "6g"]),
        "bandwidth_mbps": st.floats(-1, 200_000, allow_nan=False),
        "loss_pct": st.floats(-1, 101, allow_nan=False),
    }),
    "device": st.fixed_dictionaries({}, optional={
        "cpu_cores": st.integers(0, 200),
        "charging": st.booleans() | st.just("yes"),
        "installed_models": st.lists(st.sampled_from(["a", "b-1", "bad id"]), max_size=34),
    }),
}  # fmt: skip
BODIES = st.fixed_dictionaries({}, optional=_values)


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_the_gateway_never_rejects_a_request_the_model_accepts(body: dict[str, Any]):
    if pydantic_accepts(body):
        assert gateway_accepts(body), body


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_the_gateway_rejects_what_the_model_rejects_except_python_validators(
    body: dict[str, Any],
):
    if gateway_accepts(body) and not pydantic_accepts(body):
        # Only the prompt's field validator (whitespace, NUL) may differ; the strategy draws
        # no all-zero weights.
        with pytest.raises(ValidationError) as caught:
            InferenceRequest.model_validate(body, strict=True)
        assert {tuple(e["loc"]) for e in caught.value.errors()} == {("prompt",)}, body


# -- the converter itself -------------------------------------------------------------------


def test_draft6_keywords_become_their_draft4_forms():
    converted = to_draft4(
        {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 0},
                                          "k": {"const": "fixed"}}}
    )  # fmt: skip
    assert converted["properties"]["x"] == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    assert converted["properties"]["k"] == {"enum": ["fixed"]}


def test_reference_siblings_annotate_the_inlined_definition():
    converted = to_draft4(
        {"$defs": {"Inner": {"type": "object", "title": "Inner"}},
         "properties": {"inner": {"$ref": "#/$defs/Inner", "description": "used here"}}}
    )  # fmt: skip
    assert converted["properties"]["inner"] == {
        "type": "object", "title": "Inner", "description": "used here",
    }  # fmt: skip


def test_recursive_models_and_unknown_keywords_are_refused():
    class Node(BaseModel):
        children: list[Node] = Field(default_factory=list)

    with pytest.raises(UnsupportedSchema, match="refers to itself"):
        api_gateway_schema(Node)
    with pytest.raises(UnsupportedSchema, match="prefixItems"):
        to_draft4({"type": "array", "prefixItems": [{"type": "string"}]})
    with pytest.raises(UnsupportedSchema, match="local"):
        to_draft4({"properties": {"x": {"$ref": "https://example.com/schema.json"}}})
