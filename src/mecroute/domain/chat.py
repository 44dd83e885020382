"""OpenAI-compatible chat completions: the request, the answer, the stream chunk and the error
body, and the one translation of a chat request (body and `x-mecroute-*` headers) into the
pipeline's InferenceRequest."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mecroute.domain.errors import InvalidRequest, field_problems
from mecroute.domain.messages import MonitorRecord, Timing
from mecroute.domain.registry import ModelSpec, Tier
from mecroute.domain.request import (
    MAX_OUTPUT_TOKENS,
    CriterionWeights,
    DeviceTelemetry,
    Identifier,
    InferenceRequest,
    NetworkConditions,
    Privacy,
    ServiceLevel,
    StrictModel,
    TaskType,
)

AUTO_MODEL = "auto"
Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length"]
HEADER_PREFIX = "x-mecroute-"
# Routing inputs a header may carry: plain values, and objects given as JSON.
_PLAIN_HEADERS = ("privacy", "task_type", "idempotency_key")
_JSON_HEADERS = ("sla", "device", "network", "weights")


# The request ------------------------------------------------------------------------------------


class TextPart(StrictModel):
    type: Literal["text"]
    text: str = Field(max_length=16_000)


class ChatMessage(StrictModel):
    role: Role
    content: str | list[TextPart] = Field(description="Text, or a list of text parts.")
    name: Annotated[str, StringConstraints(max_length=64)] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(StrictModel):
    include_usage: bool = False


class RoutingOptions(StrictModel):
    """The routing inputs OpenAI has no field for: the SDK's `extra_body={"mecroute": {...}}`."""

    sla: ServiceLevel | None = None
    privacy: Privacy | None = None
    device: DeviceTelemetry | None = None
    network: NetworkConditions | None = None
    weights: CriterionWeights | None = None
    task_type: TaskType | None = None
    idempotency_key: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] | None
    ) = None


class ChatCompletionRequest(StrictModel):
    """`POST /v1/chat/completions`: OpenAI's request, the fields this router serves."""

    model: Identifier = Field(
        default=AUTO_MODEL,
        description="`auto` lets the router choose; a registered model id pins it (privacy and "
        "the SLA still apply).",
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(
        default=None, ge=1, le=MAX_OUTPUT_TOKENS, description="OpenAI's newer name for max_tokens."
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: Identifier | None = None
    mecroute: RoutingOptions | None = None

    def prompt(self) -> str:
        """One user message is the prompt itself; a conversation becomes a role-labelled
        transcript, which is what the complexity model and the personal-data check read."""
        if len(self.messages) == 1 and self.messages[0].role == "user":
            return self.messages[0].text()
        return "\n\n".join(f"{message.role}: {message.text()}" for message in self.messages)


# Where a field of the InferenceRequest came from in the chat request, for error messages.
_CHAT_FIELD = {"prompt": "messages", "model_preference": "model", "user_id": "user"}


def parse_chat_request(raw: Any) -> ChatCompletionRequest:
    """Validate a chat request body; every bad field is named in the InvalidRequest raised."""
    if not isinstance(raw, dict):
        raise InvalidRequest([{"field": "(body)", "problem": "must be a JSON object"}])
    try:
        return ChatCompletionRequest.model_validate(raw)
    except ValidationError as error:
        raise InvalidRequest.from_validation_error(error) from None


def routing_from_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    """The `x-mecroute-*` headers as RoutingOptions fields; a bad header is named."""
    lowered = {name.lower(): value for name, value in headers.items()}
    options: dict[str, Any] = {}
    problems = []
    for field_name in (*_PLAIN_HEADERS, *_JSON_HEADERS):
        header = HEADER_PREFIX + field_name.replace("_", "-")
        if header not in lowered:
            continue
        if field_name in _PLAIN_HEADERS:
            options[field_name] = lowered[header].strip()
            continue
        try:
            options[field_name] = json.loads(lowered[header])
        except ValueError:
            problems.append({"field": header, "problem": "must be a JSON object"})
    try:
        RoutingOptions.model_validate(options)
    except ValidationError as error:
        for problem in field_problems(error):
            name, _, rest = problem["field"].partition(".")
            location = HEADER_PREFIX + name.replace("_", "-") + (f".{rest}" if rest else "")
            problems.append({"field": location, "problem": problem["problem"]})
    if problems:
        raise InvalidRequest(problems)
    return options


def to_inference_request(
    raw: Any, headers: Mapping[str, str] | None = None
) -> tuple[ChatCompletionRequest, InferenceRequest]:
    """The chat request and the InferenceRequest the pipeline runs for it.

    Routing inputs come from the `mecroute` object, else from `x-mecroute-*` headers.
    """
    chat = parse_chat_request(raw)
    options = routing_from_headers(headers or {})
    if chat.mecroute is not None:
        options.update(chat.mecroute.model_dump(exclude_none=True))
    pinned = chat.model != AUTO_MODEL
    fields: dict[str, Any] = {
        "prompt": chat.prompt(),
        "model_preference": chat.model if pinned else None,
        "pin_model": pinned,
        "max_tokens": chat.max_completion_tokens or chat.max_tokens,
        "temperature": chat.temperature,
        **options,
    }
    if chat.user is not None:
        fields["user_id"] = chat.user
    try:
        return chat, InferenceRequest.model_validate(fields)
    except ValidationError as error:
        problems = []
        for problem in field_problems(error):
            head, dot, rest = problem["field"].partition(".")
            location = _CHAT_FIELD.get(head) or f"mecroute.{head}"
            problems.append({"field": location + dot + rest, "problem": problem["problem"]})
        raise InvalidRequest(problems) from None


# The pipeline's input for a chat request: the body and the routing headers as they came, so
# the context agent translates them with the same function wherever the request entered.
CHAT_ENVELOPE = "chat_completion"
REGIONAL_STREAM_REFUSAL = (
    "the regional API answers whole completions (a synchronous Express execution cannot "
    "stream): stream through the MEC site's edge gateway (`mecroute gateway`) or `mecroute serve`"
)


def pipeline_request(body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    routing = {k.lower(): v for k, v in headers.items() if k.lower().startswith(HEADER_PREFIX)}
    return {CHAT_ENVELOPE: body, "headers": routing}


def from_pipeline_request(raw: Any) -> InferenceRequest | None:
    """The InferenceRequest for a chat envelope (None when `raw` is a plain InferenceRequest)."""
    if not isinstance(raw, dict) or CHAT_ENVELOPE not in raw:
        return None
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidRequest([{"field": "headers", "problem": "must map header names to text"}])
    chat, request = to_inference_request(raw[CHAT_ENVELOPE], headers)
    if chat.stream and raw.get("can_stream") is False:
        raise InvalidRequest([{"field": "stream", "problem": REGIONAL_STREAM_REFUSAL}])
    return request


# The answer -------------------------------------------------------------------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Usage(Answer):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(Answer):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(Answer):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: None = None


class RoutingSummary(Answer):
    """The `mecroute` field of an answer: where it ran, what it cost, and why there."""

    request_id: str
    tier: Tier
    node_id: str | None
    model_id: str
    from_cache: bool
    latency_ms: float
    cost_usd: float
    sla_met: bool
    reason: str
    failed_attempts: list[str] = Field(description="Candidates tried before the one that served.")
    timing: Timing | None = Field(
        default=None, description="End to end, routing overhead and execution, in ms."
    )


class ChatCompletion(Answer):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    mecroute: RoutingSummary | None = Field(
        default=None, description="Set by the router; a model server alone answers without it."
    )

    def decision_headers(self) -> dict[str, str]:
        """The routing decision as response headers, sent before any of the answer."""
        routing = self.mecroute
        if routing is None:
            return {}
        return {
            "x-mecroute-tier": routing.tier,
            "x-mecroute-node": routing.node_id or "-",
            "x-mecroute-model": routing.model_id,
            "x-mecroute-request-id": routing.request_id,
        }


def completion_from_record(record: MonitorRecord, created: int) -> ChatCompletion:
    """The chat answer for a succeeded pipeline run (its MonitorRecord)."""
    result = record.result
    if result is None:
        raise ValueError(f"request {record.request_id} has no result to answer with")
    return ChatCompletion(
        id=f"chatcmpl-{record.request_id}",
        created=created,
        model=result.model_id,
        choices=[
            Choice(
                message=AssistantMessage(content=result.output),
                finish_reason=result.finish_reason,
            )
        ],
        usage=Usage(
            prompt_tokens=result.input_tokens,
            completion_tokens=result.output_tokens,
            total_tokens=result.input_tokens + result.output_tokens,
        ),
        mecroute=RoutingSummary(
            request_id=record.request_id,
            tier=result.tier,
            node_id=result.node_id,
            model_id=result.model_id,
            from_cache=result.from_cache,
            latency_ms=result.latency_ms,
            cost_usd=result.cost_usd,
            sla_met=record.sla_met,
            reason=record.decision.reason if record.decision else "",
            failed_attempts=[failure.candidate for failure in record.failures],
            timing=record.timing,
        ),
    )


# Streaming --------------------------------------------------------------------------------------


class ChunkChoice(Answer):
    index: int = 0
    delta: dict[str, str] = Field(description="`role` first, then pieces of `content`.")
    finish_reason: FinishReason | None = None
    logprobs: None = None


class ChatCompletionChunk(Answer):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    mecroute: RoutingSummary | None = None


# Words per content chunk: the pipeline has the whole answer, so it is cut into pieces about
# the size a model streams.
WORDS_PER_CHUNK = 4


def completion_chunks(
    completion: ChatCompletion, include_usage: bool = False
) -> Iterator[ChatCompletionChunk]:
    """The answer as OpenAI streams it: the role, pieces of content, the finish reason (with
    the `mecroute` summary), then usage in a chunk with no choices when asked for."""
    common = {"id": completion.id, "created": completion.created, "model": completion.model}
    choice = completion.choices[0]
    yield ChatCompletionChunk(
        **common, choices=[ChunkChoice(delta={"role": "assistant", "content": ""})]
    )
    words = choice.message.content.split(" ")
    for start in range(0, len(words), WORDS_PER_CHUNK):
        piece = " ".join(words[start : start + WORDS_PER_CHUNK])
        if start + WORDS_PER_CHUNK < len(words):
            piece += " "
        if piece:
            yield ChatCompletionChunk(**common, choices=[ChunkChoice(delta={"content": piece})])
    yield ChatCompletionChunk(
        **common,
        choices=[ChunkChoice(delta={}, finish_reason=choice.finish_reason)],
        mecroute=completion.mecroute,
    )
    if include_usage:
        yield ChatCompletionChunk(**common, choices=[], usage=completion.usage)


def server_sent_events(chunks: Iterator[ChatCompletionChunk]) -> Iterator[bytes]:
    """Each chunk as a `data:` event, then OpenAI's `data: [DONE]`."""
    for chunk in chunks:
        # `finish_reason: null` stays, as OpenAI sends it; usage and mecroute only when set.
        absent = {name for name in ("usage", "mecroute") if getattr(chunk, name) is None}
        yield b"data: " + chunk.model_dump_json(exclude=absent).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


# Errors -----------------------------------------------------------------------------------------


class ChatErrorDetail(Answer):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ChatErrorBody(Answer):
    error: ChatErrorDetail
    request_id: str | None = None


def error_type(status: int) -> str:
    """OpenAI's error type for an HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error" if status < 500 else "server_error"


def openai_error(status: int, body: Mapping[str, Any]) -> ChatErrorBody:
    """The API's own error body (`{"error": NAME, "message", "problems"}`) in OpenAI's shape,
    with the same status; each bad field is named in the message and the first in `param`."""
    problems = [p for p in body.get("problems") or [] if isinstance(p, dict)]
    message = str(body.get("message") or body.get("error") or "request failed")
    if problems:
        message += ": " + "; ".join(f"{p.get('field')}: {p.get('problem')}" for p in problems)
    return ChatErrorBody(
        error=ChatErrorDetail(
            message=message,
            type=error_type(status),
            param=str(problems[0].get("field")) if problems else None,
            code=str(body.get("error")) if body.get("error") else None,
        ),
        request_id=str(body["request_id"]) if body.get("request_id") else None,
    )


# Models -----------------------------------------------------------------------------------------


def model_list(models: list[ModelSpec]) -> dict[str, Any]:
    """`GET /v1/models`: OpenAI's list (`data`, `auto` first) beside the registry's own records
    (`models`, what this API answered before the OpenAI-compatible routes)."""
    cards = [_card(AUTO_MODEL, ["device", "mec", "cloud"])]
    cards += [_card(model.model_id, list(model.tiers)) for model in models]
    return {
        "object": "list",
        "data": cards,
        "models": [model.model_dump(mode="json") for model in models],
    }


def _card(model_id: str, tiers: list[Tier]) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "mecroute", "tiers": tiers}
