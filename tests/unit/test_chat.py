"""The OpenAI-compatible chat models: translation, answers, stream chunks, errors, model list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mecroute.agents.context import parse_request
from mecroute.domain.chat import (
    ChatCompletion,
    completion_chunks,
    completion_from_record,
    model_list,
    openai_error,
    pipeline_request,
    server_sent_events,
    to_inference_request,
)
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.messages import AttemptFailure, MonitorRecord, Timing

from .builders import EDGE_SMALL, NOW, candidate, decision, execution_result, zoo_specs


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": "Hi there?"}], **fields}


def problems_of(raw: Any, headers: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(InvalidRequest) as raised:
        to_inference_request(raw, headers)
    return [problem["field"] for problem in raised.value.problems]


def test_one_user_message_is_the_prompt_and_auto_leaves_the_choice_to_the_router() -> None:
    _, request = to_inference_request(chat())

    assert request.prompt == "Hi there?"
    assert (request.model_preference, request.pin_model) == (None, False)
    assert request.max_tokens is None


def test_a_conversation_becomes_a_role_labelled_transcript() -> None:
    parts = [{"type": "text", "text": "Capital of "}, {"type": "text", "text": "France?"}]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": parts}]

    _, request = to_inference_request(chat(messages=messages))

    assert request.prompt == "system: Be brief.\n\nuser: Capital of France?"


def test_a_model_id_pins_the_model_and_openai_fields_reach_the_request() -> None:
    body = chat(model=EDGE_SMALL, max_tokens=50, temperature=0.2, user="alice")

    _, request = to_inference_request(body)

    assert (request.model_preference, request.pin_model) == (EDGE_SMALL, True)
    assert (request.max_tokens, request.temperature, request.user_id) == (50, 0.2, "alice")
    assert to_inference_request(chat(max_completion_tokens=12))[1].max_tokens == 12


def test_routing_inputs_come_from_the_mecroute_object_over_the_headers() -> None:
    body = chat(mecroute={"privacy": "strict", "sla": {"max_latency_ms": 300}})
    headers = {
        "X-Mecroute-Privacy": "regional",
        "x-mecroute-network": json.dumps({"radio": "lte", "rtt_ms": 60}),
        "content-type": "application/json",
    }

    _, request = to_inference_request(body, headers)

    assert request.privacy == "strict"
    assert request.sla.max_latency_ms == 300
    assert (request.network.radio, request.network.rtt_ms) == ("lte", 60)


def test_bad_input_names_the_field_as_the_caller_wrote_it() -> None:
    assert problems_of({"model": "auto"}) == ["messages"]
    assert problems_of(chat(max_tokens=0)) == ["max_tokens"]
    assert problems_of(chat(top_p=0.5)) == ["top_p"]
    assert problems_of(chat(mecroute={"sla": {"max_latency_ms": 1}})) == [
        "mecroute.sla.max_latency_ms"
    ]
    assert problems_of(chat(messages=[{"role": "user", "content": " "}])) == ["messages"]
    assert problems_of(chat(), {"x-mecroute-sla": "{not json"}) == ["x-mecroute-sla"]
    assert problems_of(chat(), {"x-mecroute-privacy": "secret"}) == ["x-mecroute-privacy"]
    assert problems_of([1]) == ["(body)"]


def record(**result: Any) -> MonitorRecord:
    primary = candidate("mec", EDGE_SMALL, placement="hot")
    return MonitorRecord(
        request_id="req-1",
        user_id="anonymous",
        status="succeeded",
        decision=decision(primary, reason="mec/mec-a/edge-small-v1 scored 0.90"),
        result=execution_result(
            output="Paris is the capital of France.",
            input_tokens=4,
            output_tokens=6,
            **result,
        ),
        failures=[AttemptFailure(candidate="mec/mec-b/edge-small-v1", error="E", cause="c")],
        sla_met=True,
        recorded_at=NOW,
    )


def test_the_answer_carries_text_usage_and_the_decision() -> None:
    completion = completion_from_record(record(finish_reason="length"), created=123)

    assert completion.id == "chatcmpl-req-1"
    assert completion.model == EDGE_SMALL
    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.model_dump() == {
        "prompt_tokens": 4,
        "completion_tokens": 6,
        "total_tokens": 10,
    }
    assert completion.mecroute is not None
    assert completion.mecroute.failed_attempts == ["mec/mec-b/edge-small-v1"]
    timing = Timing(end_to_end_ms=120.0, routing_overhead_ms=70.0, execution_ms=50.0)
    timed = completion_from_record(record().model_copy(update={"timing": timing}), created=1)
    assert timed.mecroute is not None
    assert timed.mecroute.timing == timing
    assert completion.decision_headers() == {
        "x-mecroute-tier": "mec",
        "x-mecroute-node": "mec-a",
        "x-mecroute-model": EDGE_SMALL,
        "x-mecroute-request-id": "req-1",
    }


def stream(completion: ChatCompletion, include_usage: bool) -> list[dict[str, Any]]:
    events = b"".join(server_sent_events(completion_chunks(completion, include_usage)))
    frames = events.decode().split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    return [json.loads(frame.removeprefix("data: ")) for frame in frames[:-2]]


def test_streamed_chunks_reassemble_the_answer_in_openais_order() -> None:
    completion = completion_from_record(record(), created=123)

    chunks = stream(completion, include_usage=True)

    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-req-1"}
    assert chunks[0]["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "finish_reason": None,
        "logprobs": None,
    }
    assert "usage" not in chunks[0]
    assert "mecroute" not in chunks[0]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Paris is the capital of France."
    finish = chunks[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["mecroute"]["tier"] == "mec"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 10
    assert "usage" not in stream(completion, include_usage=False)[-1]


def test_errors_keep_their_status_in_openais_shape() -> None:
    native = {
        "error": "InvalidRequest",
        "message": "invalid request",
        "problems": [{"field": "messages", "problem": "Field required"}],
        "request_id": "req-9",
    }

    body = openai_error(400, native).model_dump()

    assert body["error"] == {
        "message": "invalid request: messages: Field required",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "InvalidRequest",
    }
    assert body["request_id"] == "req-9"
    no_route = openai_error(422, {"error": "NoFeasibleRoute", "message": "no candidate"})
    assert (no_route.error.type, no_route.error.code) == (
        "invalid_request_error",
        "NoFeasibleRoute",
    )
    assert openai_error(503, {"error": "NoTierAvailable"}).error.type == "server_error"


def test_the_model_list_is_openais_with_auto_first_and_the_registry_beside_it() -> None:
    specs = zoo_specs()

    listed = model_list(specs)

    assert listed["object"] == "list"
    assert [card["id"] for card in listed["data"]] == ["auto", *(s.model_id for s in specs)]
    assert {card["object"] for card in listed["data"]} == {"model"}
    assert listed["models"][0]["model_id"] == specs[0].model_id


def test_the_context_agent_reads_a_chat_envelope_with_the_same_translation() -> None:
    headers = {"X-Mecroute-Privacy": "strict", "Authorization": "Bearer sk-local"}

    envelope = pipeline_request(chat(max_tokens=5), headers)

    assert envelope["headers"] == {"x-mecroute-privacy": "strict"}
    assert parse_request(envelope) == to_inference_request(chat(max_tokens=5), headers)[1]
    assert problems_of_envelope(pipeline_request(chat(max_tokens=0), {})) == ["max_tokens"]


def problems_of_envelope(raw: Any) -> list[str]:
    with pytest.raises(InvalidRequest) as raised:
        parse_request(raw)
    return [problem["field"] for problem in raised.value.problems]
