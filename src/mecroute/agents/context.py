"""Context agent: what the request needs and what the device and its network can do."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Protocol

from pydantic import ValidationError

from mecroute.adapters.ports import DecisionLog
from mecroute.domain.chat import CHAT_ENVELOPE, from_pipeline_request
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.estimates import estimate_tokens
from mecroute.domain.identity import INFERENCE_ENVELOPE, bind, caller_of
from mecroute.domain.messages import ContextAnalysis
from mecroute.domain.request import DeviceTelemetry, InferenceRequest, NetworkConditions, TaskType

_PERSONAL_DATA = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),
    "phone": re.compile(r"(?<!\w)\+?\d[\d ()-]{7,}\d\b"),
    "card_number": re.compile(
        r"\b(?:\d{4}[ -]){3}\d{4,7}\b|\b\d{4}[ -]\d{6}[ -]\d{5}\b|\b\d{13,19}\b"
    ),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"),
    "us_ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
}
_TASK_HINTS: list[tuple[TaskType, re.Pattern[str]]] = [
    ("code", re.compile(r"```|\bdef |\bclass |\bfunction\b|\bcompile|\bpython\b|\bSQL\b", re.I)),
    ("translation", re.compile(r"\btranslat", re.I)),
    ("summarization", re.compile(r"\bsummar|\btl;?dr\b", re.I)),
    ("classification", re.compile(r"\bclassif|\bcategor|\bsentiment\b|\bwhich of\b", re.I)),
    ("generation", re.compile(r"\bwrite\b|\bcompose\b|\bdraft\b|\bgenerate\b", re.I)),
    ("qa", re.compile(r"\?\s*$|^(what|who|when|where|why|how)\b|\bAnswer:\s*$", re.I | re.M)),
]
_REASONING = re.compile(
    r"\b(prove|derive|explain why|step by step|calculate|compute|integral|theorem|optimi[sz]e|"
    r"analy[sz]e|compare|evaluate|implication|justify)\b",
    re.I,
)
_MATH = re.compile(r"[=+*/^<>∑∫√π]|\d+\.\d+")
# Expected answer length by task, in tokens: a generation asks for more than a label does.
_OUTPUT_TOKENS: dict[TaskType, int] = {
    "auto": 128,
    "chat": 160,
    "qa": 64,
    "classification": 8,
    "summarization": 150,
    "generation": 400,
    "code": 300,
    "translation": 0,  # as long as the input
}


def parse_request(raw: Any) -> InferenceRequest:
    """Validate a raw request body (bare, wrapped with its caller, or a chat completion's
    envelope); every bad field is named in the InvalidRequest raised. The request runs as the
    caller its front door verified (mecroute.domain.identity), whatever its body's user_id."""
    caller = None
    if isinstance(raw, dict) and (INFERENCE_ENVELOPE in raw or CHAT_ENVELOPE in raw):
        try:
            caller = caller_of(raw)
        except ValidationError as error:
            raise InvalidRequest.from_validation_error(error) from None
        raw = raw.get(INFERENCE_ENVELOPE, raw)
    return bind(_validated(raw), caller)


def _validated(raw: Any) -> InferenceRequest:
    chat = from_pipeline_request(raw)
    if chat is not None:
        return chat
    if not isinstance(raw, dict):
        raise InvalidRequest([{"field": "(body)", "problem": "must be a JSON object"}])
    try:
        return InferenceRequest.model_validate(raw)
    except ValidationError as error:
        raise InvalidRequest.from_validation_error(error) from None


class ComplexityScorer(Protocol):
    """The learned model (mecroute.complexity.model): P(the MEC-class model is wrong)."""

    def complexity(self, prompt: str) -> float: ...


def analyze(
    request_id: str,
    raw_request: Any,
    history: DecisionLog,
    now: float,
    scorer: ComplexityScorer | None = None,
) -> ContextAnalysis:
    """`scorer` is the learned complexity model; without it a keyword heuristic stands in."""
    request = parse_request(raw_request)
    task_type = (
        request.task_type if request.task_type != "auto" else infer_task_type(request.prompt)
    )
    input_tokens = estimate_tokens(request.prompt)
    # The router plans for the expected answer, which the caller's limit may cut short.
    output_tokens = min(_OUTPUT_TOKENS[task_type] or input_tokens, request.answer_limit)
    personal = detect_personal_data(request.prompt)
    privacy = request.privacy
    if personal and privacy == "none":
        # Personal data never leaves the caller's region, whatever the caller asked for.
        privacy = "regional"
    return ContextAnalysis(
        request_id=request_id,
        request=request,
        task_type=task_type,
        complexity=(
            scorer.complexity(request.prompt)
            if scorer
            else heuristic_complexity(request.prompt, task_type)
        ),
        complexity_source="onnx" if scorer else "heuristic",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        device_score=device_score(request.device),
        network_score=network_score(request.network),
        personal_data=personal,
        effective_privacy=privacy,
        prompt_sha256=hashlib.sha256(request.prompt.encode()).hexdigest(),
        recent_requests=history.recent_count(request.user_id, since=now - 3600),
        received_at=now,
    )


def infer_task_type(prompt: str) -> TaskType:
    for task_type, pattern in _TASK_HINTS:
        if pattern.search(prompt):
            return task_type
    return "chat"


def heuristic_complexity(prompt: str, task_type: TaskType) -> float:
    """0 = any small model will do, 1 = needs the largest model. A stand-in for a learned model."""
    words = len(prompt.split())
    length = min(1.0, math.log1p(words) / math.log1p(600))
    reasoning = min(1.0, len(_REASONING.findall(prompt)) / 3)
    math_density = min(1.0, len(_MATH.findall(prompt)) / 20)
    task = {"code": 0.3, "generation": 0.15, "summarization": 0.1}.get(task_type, 0.0)
    score = 0.45 * length + 0.3 * reasoning + 0.15 * math_density + task
    return round(min(1.0, max(0.0, score)), 4)


def detect_personal_data(prompt: str) -> list[str]:
    found = []
    for kind, pattern in _PERSONAL_DATA.items():
        for match in pattern.finditer(prompt):
            if kind == "card_number" and not _luhn_valid(match.group()):
                continue
            if kind == "phone" and not _looks_like_phone(match.group()):
                continue
            found.append(kind)
            break
    return found


_DATE = re.compile(r"^(?:\d{4}-\d{2}-\d{2}|\d{2}[-/]\d{2}[-/]\d{4})$")


def _looks_like_phone(candidate: str) -> bool:
    """Dates and grouped numbers ("1 000 000") share a phone number's characters."""
    digits = sum(ch.isdigit() for ch in candidate)
    return digits >= 9 and not _DATE.match(candidate.strip())


def _luhn_valid(candidate: str) -> bool:
    digits = [int(ch) for ch in candidate if ch.isdigit()]
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        checksum += digit
    return len(digits) >= 13 and checksum % 10 == 0


def device_score(device: DeviceTelemetry) -> float:
    """How much inference the device can take on now (0 = none, 1 = a capable, charged phone)."""
    compute = min(1.0, device.cpu_cores / 8) * 0.4 + (0.3 if device.has_npu else 0.0)
    compute += 0.1 if device.has_gpu else 0.0
    memory = min(1.0, device.memory_free_mb / 4096) * 0.2
    energy = 1.0 if device.charging else min(1.0, device.battery_pct / 50)
    return round(min(1.0, compute + memory) * energy, 4)


def network_score(network: NetworkConditions) -> float:
    """Quality of the device's link (1 = wired-grade, 0 = unusable)."""
    rtt = 1 / (1 + network.rtt_ms / 50)
    bandwidth = min(1.0, math.log10(1 + network.bandwidth_mbps) / 2)
    loss = max(0.0, 1 - network.loss_pct / 10)
    jitter = 1 / (1 + network.jitter_ms / 30)
    return round(0.4 * rtt + 0.25 * bandwidth + 0.2 * loss + 0.15 * jitter, 4)
