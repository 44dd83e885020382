"""`POST /v1/inference` fuzzed from the published OpenAPI document (docs/openapi.json) with
schemathesis: schema-valid requests, schema-violating ones, and mutations aimed at one field.

Each case goes through the local API's request handling (mecroute.local.api.inference_reply)
in-process; a request the API accepts goes on to the context agent's handler, the pipeline's
first step, against moto. Never a 5xx, never an exception the handler did not name, and
nothing runs for a request the API refused.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode

from mecroute.domain.errors import InvalidRequest
from mecroute.domain.openapi import DOCUMENT
from mecroute.domain.request import (
    MAX_PROMPT_BYTES,
    MAX_PROMPT_CHARS,
    InferenceRequest,
    prompt_bytes,
)
from mecroute.local.api import Reply, inference_reply
from mecroute.local.lambdas import FakeLambdaContext
from mecroute.local.runtime import Run

from .conftest import GENERATED, Aws, fuzz

# The powertools metrics each handler flushes are disabled here; it warns on every call.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
INFERENCE = SCHEMA["/v1/inference"]["POST"]


@dataclass
class ContextStep:
    """Stands where the execution would start: runs the context agent's handler, the
    pipeline's first state, and keeps what a caller could not see (an exception)."""

    handler: Any
    started: list[str] = field(default_factory=list)
    unnamed_errors: list[BaseException] = field(default_factory=list)

    def __call__(self, request: dict[str, Any], request_id: str) -> Run:
        self.started.append(request_id)
        try:
            analysis = self.handler(
                {"request_id": request_id, "request": request},
                FakeLambdaContext(function_name="mecroute-context"),
            )
        except InvalidRequest as error:
            cause = json.dumps({"errorType": "InvalidRequest", "errorMessage": str(error)})
            return _run(request_id, "FAILED", None, "InvalidRequest", cause)
        except BaseException as error:
            self.unnamed_errors.append(error)
            raise
        return _run(request_id, "SUCCEEDED", analysis, None, None)


def _run(request_id: str, status: str, output: Any, error: str | None, cause: str | None) -> Run:
    return Run("", request_id, status, output, error, cause, [], 0.0)


@pytest.fixture(scope="module")
def context_step(aws: Aws) -> ContextStep:
    return ContextStep(aws.handlers["context"])


def send(raw: bytes, step: ContextStep, content_type: str = "application/json") -> Reply:
    return inference_reply(raw, content_type, str(uuid.uuid4()), step)


def body_bytes(body: Any) -> bytes:
    if body is NOT_SET:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


def conforms(raw: bytes) -> bool:
    try:
        InferenceRequest.model_validate_json(raw)
    except ValidationError:
        return False
    return True


def check(reply: Reply, step: ContextStep, started_before: int) -> None:
    """What every case must satisfy, whatever was sent."""
    assert reply.status < 500, reply.body
    assert step.unnamed_errors == []
    assert reply.body["request_id"]
    started = len(step.started) - started_before
    if reply.status == 200:
        assert started == 1
    else:
        assert reply.body["error"] in {"InvalidRequest", "RequestRejected"}, reply.body
        if reply.status == 400 and started == 0:
            assert reply.body["problems"], reply.body
            assert all(p["field"] and p["problem"] for p in reply.body["problems"])


def sent_and_checked(generated: Any, context_step: ContextStep) -> tuple[bytes, Reply, int]:
    """Send one generated body and check what every reply must satisfy; the body sent, the
    reply and how many runs had started before it."""
    raw = body_bytes(generated.body)
    before = len(context_step.started)
    reply = send(raw, context_step)
    check(reply, context_step, before)
    return raw, reply, before


POSITIVE_CASES = 1000


def test_schema_valid_requests_are_accepted_and_analysed(context_step: ContextStep) -> None:
    accepted = []

    @fuzz(POSITIVE_CASES, HealthCheck.data_too_large)
    @given(INFERENCE.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def case(generated: Any) -> None:
        GENERATED["schema-valid"] += 1

        raw, reply, _ = sent_and_checked(generated, context_step)

        broken = rules_broken(raw)
        if broken:
            # The pydantic model is stricter than its JSON schema in known places only.
            assert broken <= STRICTER_RULES
            return
        # Whatever the model accepts must run.
        assert reply.status == 200, reply.body
        assert reply.body["request"]["prompt"] == json.loads(raw)["prompt"]
        accepted.append(reply.body["request_id"])

    case()
    assert GENERATED["schema-valid"] >= POSITIVE_CASES
    # The generator must mostly produce requests the API accepts, or this proves little
    # (about 63% are; the rest are `60000.0` for an integer and the like).
    assert len(accepted) >= 0.5 * POSITIVE_CASES


# Where the pydantic model is stricter than the JSON schema it publishes: `60000.0` for an
# integer (valid in JSON Schema 2020-12, not in draft 4, which API Gateway validates with), a
# weight vector summing to zero, and a prompt over the byte bound (the schema bounds
# characters).
STRICTER_RULES = {("int_type", "any"), ("value_error", "weights"), ("value_error", "prompt")}


def rules_broken(raw: bytes) -> set[tuple[str, str]]:
    """The rules of the model `raw` breaks, as (error type, top-level field or "any")."""
    try:
        InferenceRequest.model_validate_json(raw)
    except ValidationError as error:
        kinds = ((problem["type"], str(problem["loc"][0])) for problem in error.errors())
        return {(kind, "any" if kind == "int_type" else where) for kind, where in kinds}
    return set()


NEGATIVE_CASES = 1000


def test_schema_violating_requests_are_refused_with_the_field_named(
    context_step: ContextStep,
) -> None:
    @fuzz(NEGATIVE_CASES, HealthCheck.data_too_large)
    @given(INFERENCE.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def case(generated: Any) -> None:
        GENERATED["schema-violating"] += 1

        raw, reply, before = sent_and_checked(generated, context_step)

        if not conforms(raw):
            assert reply.status == 400, reply.body
            assert len(context_step.started) == before, "a refused request started a run"

    case()
    assert GENERATED["schema-violating"] >= NEGATIVE_CASES


# -- one broken field at a time -------------------------------------------------------------------


def longest_within_the_byte_bound(character: str) -> str:
    """The longest prompt of one non-ASCII character the API accepts: the byte bound, not the
    character bound, decides (an emoji counts as its two \\u escapes)."""
    per_character = prompt_bytes(character * 2) - prompt_bytes(character)
    return character * ((MAX_PROMPT_BYTES - prompt_bytes("")) // per_character)


# (field path, values that break it): wrong types, out of range, not in the enum.
BREAKERS: dict[tuple[str, ...], list[Any]] = {
    ("prompt",): [
        None,
        7,
        [],
        {},
        "",
        "   \n\t",
        "a" * (MAX_PROMPT_CHARS + 1),
        longest_within_the_byte_bound("🚀") + "🚀",
        "nul\x00here",
    ],
    ("task_type",): ["poetry", 1, None],
    ("privacy",): ["secret", True, ""],
    ("sla", "max_latency_ms"): [9, 20_001, -1, 1.5, "fast", True],
    ("sla", "min_accuracy"): [-0.01, 1.01, "high"],
    ("sla", "max_cost_usd"): [-1, 10.01, [1]],
    ("device", "cpu_cores"): [0, 129, 2.5, "four"],
    ("device", "battery_pct"): [-1, 100.5],
    ("device", "installed_models"): ["tinytext", [1], ["bad id!"], ["m"] * 33],
    ("device", "region"): ["eu west 1", "", "x" * 65],
    ("network", "radio"): ["6g", 5],
    ("network", "rtt_ms"): [-0.1, 5000.1],
    ("network", "bandwidth_mbps"): [0, -5, 100_001],
    ("network", "loss_pct"): [100.1],
    ("weights", "latency"): [-0.1, 1.1, "heavy"],
    ("model_preference",): ["no spaces allowed", "", 3],
    ("user_id",): ["", "-starts-with-dash", "ü", "x" * 65, 12],
    ("idempotency_key",): ["", "has space", "k" * 129, {"k": 1}],
    ("surprise",): ["an unknown field", 1, None],
    ("sla", "surprise"): [1],
}


def with_value(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(body))
    node = changed
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return changed


# Valid bodies to break one field of: cheap to draw, unlike schemathesis' cases, and with the
# optional sections present or not.
valid_bodies = st.fixed_dictionaries(
    {
        "prompt": st.text(min_size=1, max_size=40)
        .filter(str.strip)
        .filter(lambda t: "\x00" not in t)
    },
    optional={
        "privacy": st.sampled_from(["none", "regional", "strict"]),
        "sla": st.fixed_dictionaries({}, optional={"max_latency_ms": st.integers(10, 20_000)}),
        "device": st.fixed_dictionaries({}, optional={"cpu_cores": st.integers(1, 128)}),
        "network": st.fixed_dictionaries({}, optional={"rtt_ms": st.floats(0, 5000)}),
        "weights": st.none(),
        "user_id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True),
    },
)


MUTATION_CASES = 1500


def test_each_broken_field_is_named_and_nothing_runs(context_step: ContextStep) -> None:
    breakers = st.sampled_from(sorted(BREAKERS)).flatmap(
        lambda path: st.tuples(st.just(path), st.sampled_from(BREAKERS[path]))
    )

    @fuzz(MUTATION_CASES)
    @given(base=valid_bodies, breaker=breakers)
    def case(base: dict[str, Any], breaker: tuple[tuple[str, ...], Any]) -> None:
        GENERATED["one-field-broken"] += 1
        path, value = breaker
        body = with_value(base, path, value)
        before = len(context_step.started)

        reply = send(json.dumps(body).encode(), context_step)

        assert reply.status == 400, (path, value, reply.body)
        assert len(context_step.started) == before
        named = [tuple(p["field"].split(".")) for p in reply.body["problems"]]
        # The problem names the field itself, or (for a union such as weights) a path in it.
        assert any(field[: len(path)] == path for field in named), (path, named)

    case()
    assert GENERATED["one-field-broken"] >= MUTATION_CASES


RAW_CASES = 1000


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Anything a client could put in a body: bytes, truncated JSON, JSON of the wrong shape."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
    kind = draw(st.sampled_from(["bytes", "json", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = json.dumps(draw(json_values))
    if kind == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    return text.encode()


def test_arbitrary_bodies_never_reach_the_pipeline_unless_valid(
    context_step: ContextStep,
) -> None:
    @fuzz(RAW_CASES)
    @given(raw_bodies())
    def case(raw: bytes) -> None:
        GENERATED["arbitrary-body"] += 1
        before = len(context_step.started)

        reply = send(raw, context_step)

        check(reply, context_step, before)
        assert (reply.status == 200) == conforms(raw)

    case()
    assert GENERATED["arbitrary-body"] >= RAW_CASES


# -- named edge cases ------------------------------------------------------------------------------

ACCEPTED_TEXT = {
    "rtl": "ما هي عاصمة فرنسا؟ שלום",
    "emoji": "Summarise 👩🏽‍💻🚀 in one line 🇫🇷",
    "combining": "Cafe\u0301 and na\u0308ive",
    "zero-width": "zero\u200bwidth\u200djoin\ufeff",
    "cjk": "法国的首都是哪里\uff1f",
    "longest": "x" * MAX_PROMPT_CHARS,
    "longest-4-byte": longest_within_the_byte_bound("🚀"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED_TEXT))
def test_unusual_but_valid_text_is_accepted_and_analysed(
    name: str, context_step: ContextStep
) -> None:
    reply = send(json.dumps({"prompt": ACCEPTED_TEXT[name]}).encode(), context_step)

    assert reply.status == 200, reply.body
    assert reply.body["request"]["prompt"] == ACCEPTED_TEXT[name]
    assert reply.body["input_tokens"] >= 1


REFUSED_BODIES = {
    "lone high surrogate": (b'{"prompt": "a\\ud800b"}', "prompt"),
    "lone low surrogate": (b'{"prompt": "\\udc00"}', "prompt"),
    "NUL": (b'{"prompt": "a\\u0000b"}', "prompt"),
    "one character too long": (
        json.dumps({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}).encode(),
        "prompt",
    ),
    "NaN": (b'{"prompt": "hi", "sla": {"min_accuracy": NaN}}', "(body)"),
    "Infinity": (b'{"prompt": "hi", "network": {"rtt_ms": Infinity}}', "(body)"),
    "huge integer": (
        b'{"prompt": "hi", "device": {"cpu_cores": 1' + b"0" * 5000 + b"}}",
        "(body)",
    ),
    "nested 100000 deep": (b"[" * 100_000 + b"]" * 100_000, "(body)"),
    "invalid UTF-8": (b'{"prompt": "\xff\xfe"}', "(body)"),
    "top-level array": (b'[{"prompt": "hi"}]', "(body)"),
    "empty": (b"", "(body)"),
}


@pytest.mark.parametrize("name", sorted(REFUSED_BODIES))
def test_bodies_no_model_accepts_are_400_with_the_field_named(
    name: str, context_step: ContextStep
) -> None:
    raw, field_name = REFUSED_BODIES[name]
    before = len(context_step.started)

    reply = send(raw, context_step)

    assert reply.status == 400, reply.body
    assert reply.body["error"] == "InvalidRequest"
    assert [p["field"] for p in reply.body["problems"]] == [field_name]
    assert len(context_step.started) == before


def test_a_body_that_is_not_json_media_is_415_and_nothing_runs(
    context_step: ContextStep,
) -> None:
    before = len(context_step.started)

    reply = send(b"prompt=hi", context_step, content_type="application/x-www-form-urlencoded")

    assert reply.status == 415
    assert len(context_step.started) == before


def test_the_published_document_is_what_the_models_generate() -> None:
    from mecroute.domain.openapi import rendered

    assert Path(DOCUMENT).read_text() == rendered(), "run `make openapi`"
