"""Hostile requests for the black-box campaign (bench/bench_campaign.py): every way a caller
can get a request wrong, on the inference route and the OpenAI chat route, each with the
fields it breaks so an answer can be checked for naming them.

A body the request model accepts is not hostile: generated mutations the model accepts are
dropped, and the few valid requests kept on purpose (boundaries, odd but legal text, unknown
credentials) are labelled so.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mecroute.domain.chat import to_inference_request
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.request import InferenceRequest

INFERENCE, CHAT = "/v1/inference", "/v1/chat/completions"
# The campaign's own caller: every request carries its key but those that test credentials
# (the bench writes the key file the regional API and the gateway read).
CAMPAIGN_KEY = "campaign-key-not-a-secret"
AUTH = {"x-api-key": CAMPAIGN_KEY}
JSON = {"Content-Type": "application/json", **AUTH}


@dataclass(frozen=True)
class Case:
    category: str
    path: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"
    # The fields the case breaks: a 4xx should name one of them (empty: the problem will do).
    fields: tuple[str, ...] = ()
    valid: bool = False  # a legal request kept on purpose: 200 is its right answer


def base(path: str) -> dict[str, Any]:
    if path == INFERENCE:
        return {"prompt": "What is the capital of France?"}
    return {"model": "auto", "messages": [{"role": "user", "content": "Name a prime number."}]}


def is_valid(path: str, body: Any) -> bool:
    """Whether the route's own model accepts the body (the chat route's, as the pipeline's
    request it becomes)."""
    try:
        if path == INFERENCE:
            InferenceRequest.model_validate(body)
        else:
            to_inference_request(body)
    except (ValidationError, InvalidRequest):
        return False
    return True


# Wrong values: every JSON type, edges of numbers and strings.
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 10**30, 1e308, "", "x", "NaN", "-1", [], [1], {}, {"a": 1},
    "a" * 5000,
]  # fmt: skip
HUGE_SLAS: list[Any] = [20_001, 10**9, 10**18, 1e308, 0, -5, 0.5, "3000", [3000]]
BAD_KEYS: list[Any] = [
    "", "a" * 129, "with space", "ключ", "emoji-🙂", "semi;colon", "slash/key", "tab\tkey",
    "nul\u0000", 12, ["k"], {"k": 1},
]  # fmt: skip
INFERENCE_FIELDS = {
    "prompt": ODD_VALUES,
    "task_type": [*ODD_VALUES, "poetry", "QA"],
    "sla": ODD_VALUES,
    "sla.max_latency_ms": ODD_VALUES + HUGE_SLAS,
    "sla.min_accuracy": [*ODD_VALUES, 1.01, -0.1],
    "sla.max_cost_usd": [*ODD_VALUES, -0.01],
    "privacy": [*ODD_VALUES, "STRICT", "private"],
    "device": ODD_VALUES,
    "device.cpu_cores": [*ODD_VALUES, 10**6],
    "device.memory_free_mb": ODD_VALUES,
    "device.battery_pct": [*ODD_VALUES, 101, -0.1],
    "device.charging": [*ODD_VALUES, "yes"],
    "device.installed_models": [*ODD_VALUES, ["a" * 300]],
    "network": ODD_VALUES,
    "network.radio": [*ODD_VALUES, "6g"],
    "network.rtt_ms": ODD_VALUES,
    "network.bandwidth_mbps": ODD_VALUES,
    "network.loss_pct": [*ODD_VALUES, 101],
    "model_preference": ODD_VALUES,
    "weights": ODD_VALUES,
    "weights.latency": ODD_VALUES,
    "user_id": BAD_KEYS + ODD_VALUES,
    "idempotency_key": BAD_KEYS,
    "max_tokens": [*ODD_VALUES, 0, 10**7],
    "temperature": [*ODD_VALUES, 2.5, -0.1],
}
CHAT_FIELDS = {
    "model": [*ODD_VALUES, "gpt-4o", "no such/model"],
    "messages": [*ODD_VALUES, [{}], [{"role": "user"}]],
    "messages.0": ODD_VALUES,
    "messages.0.role": [*ODD_VALUES, "root", "USER"],
    "messages.0.content": [*ODD_VALUES, [{"type": "image_url", "image_url": "x"}]],
    "max_tokens": [*ODD_VALUES, 0, 10**7],
    "max_completion_tokens": [*ODD_VALUES, 0],
    "temperature": [*ODD_VALUES, 2.5],
    "stream": [*ODD_VALUES, "true"],
    "stream_options": ODD_VALUES,
    "user": BAD_KEYS,
    "mecroute": ODD_VALUES,
    "mecroute.privacy": [*ODD_VALUES, "STRICT"],
    "mecroute.sla": ODD_VALUES,
    "mecroute.sla.max_latency_ms": HUGE_SLAS,
}
MALFORMED = [
    b"", b"{", b"}", b"[", b"null", b"true", b"42", b'"prompt"', b"[]", b"{'prompt': 'hi'}",
    b'{"prompt": "hi",}', b'{"prompt": "hi"} trailing', b'{"prompt": NaN}',
    b'{"prompt": Infinity}', b'{"prompt": "hi"', b'{"prompt" "hi"}', b"\xff\xfe{}",
    b'{"prompt": "\xc3\x28"}', b'{"prompt": "\xed\xa0\x80"}', b"[" * 5000 + b"]" * 5000,
    b'{"prompt": ' + b"9" * 5000 + b"}", b'{"prompt": "hi", "prompt": 5}', b"\x00" * 16,
    b'{"a": ' * 300 + b"1" + b"}" * 300,
]  # fmt: skip
CONTENT_TYPES = [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "application/json-patch+json", "*/*", "application", "",
]  # fmt: skip
METHODS = ["GET", "PUT", "DELETE", "PATCH"]
UNKNOWN_PATHS = [
    "/", "/v1", "/v2/inference", "/v1/inference/", "/v1/Inference", "/v1/inference/extra",
    "/v1/chat", "/v1/completions", "/v1/embeddings", "/../../etc/passwd", "/v1/%00",
    "/v1/decisions/", "/admin", "/v1/inference?x=1&x=2", "/%2e%2e/v1/inference",
]  # fmt: skip
CREDENTIALS: list[dict[str, str]] = [
    {}, {"x-api-key": ""}, {"x-api-key": "not-a-key"}, {"x-api-key": "k" * 4096},
    {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "AWS4-HMAC-SHA256 Credential=x"},
    {"x-api-key": "key", "Authorization": "Bearer other"},
]  # fmt: skip
ROUTING_HEADERS = [
    {"x-mecroute-privacy": "secret"}, {"x-mecroute-sla": "{"}, {"x-mecroute-sla": "[]"},
    {"x-mecroute-sla": '{"max_latency_ms": 99999999}'}, {"x-mecroute-privacy": ""},
]  # fmt: skip


def with_value(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the field at `dotted` (a.b.0.c) set, parents created."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, leaf = dotted.split(".")
    holder: Any = copy
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder.setdefault(part, {})
    if isinstance(holder, list):
        holder[int(leaf)] = value
    else:
        holder[leaf] = value
    return copy


def encoded(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


def field_cases(path: str) -> Iterator[Case]:
    """Each field set to each wrong value, once; what the model accepts is left out."""
    for dotted, values in (INFERENCE_FIELDS if path == INFERENCE else CHAT_FIELDS).items():
        for value in values:
            body = with_value(base(path), dotted, value)
            if not is_valid(path, body):
                category = "huge SLA" if dotted.endswith("max_latency_ms") else "wrong type/value"
                if dotted in ("idempotency_key", "user_id", "user") and value in BAD_KEYS:
                    category = "bad identifier/idempotency key"
                yield Case(category, path, encoded(body), JSON, fields=(dotted,))


def shape_cases(path: str) -> Iterator[Case]:
    body = base(path)
    for name in body:
        missing = {k: v for k, v in body.items() if k != name}
        if not is_valid(path, missing):
            yield Case("missing field", path, encoded(missing), JSON, fields=(name,))
    for parent in ("", "sla.", "device.", "network.", "weights.", "mecroute."):
        for extra in ("extra", "__proto__", "constructor", "Prompt", "x" * 200):
            candidate = with_value(body, parent + extra, 1)
            if not is_valid(path, candidate):
                # Under a parent the route does not have, the parent itself is the extra field.
                named = (extra[:40], parent.rstrip(".")) if parent else (extra[:40],)
                yield Case("extra field", path, encoded(candidate), JSON, fields=named)


def size_cases(path: str) -> Iterator[Case]:
    """The prompt's bounds: 16,000 characters, and 65,536 bytes as JSON with non-ASCII escaped
    (é is 6 bytes, an emoji 12); a body over 256 KB is refused before it is parsed (413)."""
    prompt_field = "prompt" if path == INFERENCE else "messages.0.content"
    named = (prompt_field.split(".")[0],)
    for prompt, fields in [
        ("a" * 16_000, named), ("a" * 16_001, named), ("é" * 10_922, named),
        ("é" * 10_923, named), ("🙂" * 5_461, named), ("🙂" * 16_000, named), ("", named),
        (" " * 16_000, named), ("a" * 300_000, ()),
    ]:  # fmt: skip
        body = with_value(base(path), prompt_field, prompt)
        valid = is_valid(path, body) and len(prompt) < 300_000
        yield Case("oversized/boundary prompt", path, encoded(body), JSON,
                   fields=() if valid else fields, valid=valid)  # fmt: skip


def unicode_cases(path: str) -> Iterator[Case]:
    prompt_field = "prompt" if path == INFERENCE else "messages.0.content"
    odd = [
        "\ud800", "a\udfffb", "\u0000", "nul\u0000here", "\ufeffBOM first", "\u202eRTL override",
        "zero\u200bwidth\u200djoin", "e" + "\u0301" * 2000, "🏳️‍🌈" * 50, "\U0010ffff",
    ]  # fmt: skip
    for text in odd:
        body = with_value(base(path), prompt_field, text)
        valid = is_valid(path, body)
        yield Case("odd unicode", path, encoded(body), JSON,
                   fields=() if valid else (prompt_field.split(".")[0],), valid=valid)  # fmt: skip


def transport_cases(path: str) -> Iterator[Case]:
    valid = encoded(base(path))
    for raw in MALFORMED:
        yield Case("malformed JSON", path, raw, JSON)
    for content_type in CONTENT_TYPES:
        yield Case("wrong content type", path, valid, {"Content-Type": content_type, **AUTH})
    for method in METHODS:
        yield Case("wrong method", path, valid, JSON, method=method)
    for credentials in CREDENTIALS:
        headers = {"Content-Type": "application/json", **credentials}
        yield Case("bad/absent credentials", path, valid, headers)
    if path == CHAT:
        for headers in ROUTING_HEADERS:
            name = next(iter(headers))
            yield Case("bad routing header", path, valid, JSON | headers, fields=(name,))


def unknown_routes() -> Iterator[Case]:
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST"):
            yield Case("unknown route", path, encoded(base(INFERENCE)), JSON, method=method)


def mutated(path: str, rng: random.Random) -> Case:
    """Two to four of the single-field mistakes at once (the model refuses every one)."""
    table = INFERENCE_FIELDS if path == INFERENCE else CHAT_FIELDS
    while True:
        chosen = rng.sample(sorted(table), rng.randint(2, 4))
        body = base(path)
        try:
            for dotted in chosen:
                if rng.random() < 0.15 and "." not in dotted and dotted in body:
                    body = {k: v for k, v in body.items() if k != dotted}
                else:
                    body = with_value(body, dotted, rng.choice(table[dotted]))
        except (TypeError, IndexError, ValueError, AttributeError):
            continue  # a field inside one an earlier mistake made a scalar: draw again
        if not is_valid(path, body):
            return Case("several fields wrong", path, encoded(body), JSON, fields=tuple(chosen))


def campaign(total: int, seed: int) -> list[Case]:
    """The fixed cases on both routes, then random combinations until `total` per target."""
    fixed = [
        case
        for path in (INFERENCE, CHAT)
        for make in (field_cases, shape_cases, size_cases, unicode_cases, transport_cases)
        for case in make(path)
    ]
    fixed += list(unknown_routes())
    rng = random.Random(seed)
    paths = [INFERENCE, CHAT]
    extra = [mutated(paths[i % 2], rng) for i in range(max(0, total - len(fixed)))]
    return fixed + extra
