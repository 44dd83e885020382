"""The official `openai` client against `mecroute serve`: chat completions through the pipeline,
streaming, the decision headers, the `mecroute` routing object, errors and the model list."""

from collections.abc import Callable
from typing import Any

import openai
import pytest

pytestmark = pytest.mark.e2e
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(server: tuple[str, Any]) -> openai.OpenAI:
    url, _, _ = server
    # Offline there is no authentication: any key works.
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local", max_retries=0, timeout=120)


def test_a_chat_completion_is_routed_answered_and_recorded(
    client: openai.OpenAI, recorded: Callable[[str], dict[str, Any]]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=QUESTION,
        max_tokens=60,
        extra_body={"mecroute": {"sla": {"max_latency_ms": 2000}, "privacy": "regional"}},
    )
    completion = raw.parse()

    routing = completion.model_extra["mecroute"] if completion.model_extra else {}
    assert raw.headers["x-mecroute-tier"] == routing["tier"]
    assert raw.headers["x-mecroute-model"] == completion.model == routing["model_id"]
    assert raw.headers["x-mecroute-node"] == (routing["node_id"] or "-")
    request_id = raw.headers["x-mecroute-request-id"]
    assert completion.id == f"chatcmpl-{request_id}"
    answer = completion.choices[0].message.content or ""
    assert completion.model in answer  # the simulated model names itself
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 60
    record = recorded(request_id)
    assert record["result"]["output"] == answer
    assert record["decision"]["primary"]["tier"] == routing["tier"]


def test_max_tokens_cuts_the_answer_and_says_so(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="auto", messages=QUESTION, max_tokens=3)

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    assert len((completion.choices[0].message.content or "").split()) == 3


def test_a_model_id_pins_the_model(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="edge-large-v1", messages=QUESTION, max_tokens=20
    )

    assert raw.headers["x-mecroute-model"] == "edge-large-v1"
    assert raw.parse().model == "edge-large-v1"


def test_a_pinned_model_that_privacy_forbids_is_refused_not_swapped(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(
            model="cloud-frontier-v1",
            messages=QUESTION,
            extra_headers={"x-mecroute-privacy": "strict"},
        )

    assert refused.value.code == "NoFeasibleRoute"
    assert refused.value.type == "invalid_request_error"


def test_streaming_sends_the_decision_first_then_the_answer_in_chunks(
    client: openai.OpenAI, recorded: Callable[[str], dict[str, Any]]
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="auto",
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        headers = response.headers
        chunks = list(response.parse())

    assert headers["content-type"].startswith("text/event-stream")
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta]
    text = "".join(piece or "" for piece in content)
    assert len([piece for piece in content if piece]) > 1
    assert {chunk.id for chunk in chunks} == {f"chatcmpl-{headers['x-mecroute-request-id']}"}
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(text.split())
    record = recorded(headers["x-mecroute-request-id"])
    assert record["result"]["output"] == text
    assert record["result"]["model_id"] == headers["x-mecroute-model"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": QUESTION, "max_tokens": 0}, "max_tokens"),
        ({"messages": QUESTION, "extra_body": {"mecroute": {"privacy": "secret"}}},
         "mecroute.privacy"),
        ({"messages": QUESTION, "extra_headers": {"x-mecroute-sla": "{oops"}}, "x-mecroute-sla"),
    ],
    ids=["no messages", "max_tokens 0", "bad privacy", "bad header"],
)  # fmt: skip
def test_bad_input_is_an_openai_error_naming_the_field(
    client: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="auto", **fields)

    assert refused.value.param == param
    assert refused.value.type == "invalid_request_error"
    assert refused.value.code == "InvalidRequest"
    assert param in refused.value.message


def test_the_model_list_has_auto_and_the_registry(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]

    assert ids[0] == "auto"
    assert {"edge-small-v1", "edge-large-v1", "cloud-frontier-v1"} <= set(ids)
