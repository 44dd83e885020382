"""The cloud tier: Amazon Bedrock's Converse API, or a local stand-in for the Bedrock client.

The simulator replaces the `bedrock-runtime` client, not the adapter: its answers go through
the same parsing and its errors (ThrottlingException included) through the same mapping as
Bedrock's, so the execute agent cannot tell which one served it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from mecroute.adapters.ports import CloudAnswer, CloudCall, ModelRegistry
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import compute_time_ms, estimate_tokens
from mecroute.domain.request import DEFAULT_MAX_TOKENS
from mecroute.domain.synthetic_text import generate

_RETRYABLE = {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"}

# The read timeout of the Converse call this thread is making (None: the client's own).
_call_timeout_s: ContextVar[float | None] = ContextVar("bedrock_call_timeout_s", default=None)


def _per_call_read_timeout(context: dict[str, Any], **_: Any) -> None:
    """botocore's `before-call` hook: the call's read timeout goes into its request context,
    where botocore's HTTP session takes it instead of the client's (since boto/botocore#3770)."""
    timeout_s = _call_timeout_s.get()
    if timeout_s is not None:
        context["read_timeout"] = timeout_s


def converse(client: Any, model_id: str, call: CloudCall) -> CloudAnswer:
    """One Converse call on `model_id` (Bedrock's id for the call's model), waiting at most
    `call.timeout_s`, with Bedrock's failures turned into the pipeline's TierUnavailable."""
    started = time.perf_counter()
    config: dict[str, Any] = {"maxTokens": call.max_tokens}
    if call.temperature is not None:
        # Bedrock's Converse takes 0-1; OpenAI's scale goes to 2.
        config["temperature"] = min(1.0, call.temperature)
    bounded = _call_timeout_s.set(call.timeout_s)
    try:
        response = client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": call.prompt}]}],
            inferenceConfig=config,
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        kind = "throttled" if code in _RETRYABLE else "failed"
        raise TierUnavailable(f"Bedrock {kind}: {code}") from None
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        waited_ms = (time.perf_counter() - started) * 1000
        raise TierUnavailable(
            f"Bedrock timed out after {waited_ms:.0f} ms: {type(error).__name__}"
        ) from None
    finally:
        _call_timeout_s.reset(bounded)
    text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
    usage = response.get("usage", {})
    return CloudAnswer(
        output=text,
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        finish_reason="length" if response.get("stopReason") == "max_tokens" else "stop",
        latency_ms=float(
            response.get("metrics", {}).get("latencyMs", (time.perf_counter() - started) * 1000)
        ),
    )


class BedrockCloud:
    """Calls Converse on the configured Bedrock model id (the registry's cloud model maps to it),
    each call waiting at most the time it is given: one cached client (`aws.BEDROCK_CONFIG`,
    connections kept alive), its read timeout set per call. `bedrock_model_id` None: the
    registry's own id (the offline simulator's service, mecroute.local.cloud_service)."""

    def __init__(self, client: Any, bedrock_model_id: str | None) -> None:
        self.client = client
        self.bedrock_model_id = bedrock_model_id
        client.meta.events.register(
            "before-call.bedrock-runtime.Converse",
            _per_call_read_timeout,
            unique_id="mecroute-per-call-read-timeout",
        )

    def converse(self, call: CloudCall) -> CloudAnswer:
        return converse(self.client, self.bedrock_model_id or call.model_id, call)


@dataclass
class Throttle:
    """A token bucket, the shape of a Bedrock on-demand quota. `Throttle(0, 0)` refuses all."""

    requests_per_s: float
    burst: int
    _tokens: float = field(init=False, repr=False, compare=False)
    _refilled_at: float = field(
        init=False, repr=False, compare=False, default_factory=time.monotonic
    )
    _lock: threading.Lock = field(
        init=False, repr=False, compare=False, default_factory=threading.Lock
    )

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    @classmethod
    def per_second(cls, requests_per_s: float) -> Throttle:
        return cls(requests_per_s, burst=math.ceil(requests_per_s))

    def admit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            elapsed, self._refilled_at = now - self._refilled_at, now
            self._tokens = min(self.burst, self._tokens + elapsed * self.requests_per_s)
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class LocalBedrockRuntime:
    """Answers `converse(...)` as the bedrock-runtime client does, from the zoo's cloud graph.

    Latency: the registry's reference figure for the tokens used (the router's own model),
    times log-normal jitter, reported in `metrics.latencyMs` and slept only if time_scale > 0.
    Answer: the simulated models' text (mecroute.domain.synthetic_text), fixed per prompt, so a
    repeated prompt costs the same; like a hosted model it usually stops before maxTokens.
    Usage counts input tokens the way the context agent estimates them.
    """

    # Spread of hosted-model latency around its median: p99 is about 1.6 x the median.
    LATENCY_SIGMA = 0.2

    def __init__(
        self,
        registry: ModelRegistry,
        models: VerifiedModels,
        throttle: Throttle | None = None,
        time_scale: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.registry = registry
        self.models = models
        self.throttle = throttle
        self.time_scale = time_scale
        self._rng = rng or random.Random()

    def preload(self) -> None:
        """Load every cloud model now (a service's start), not on its first call."""
        for spec in self.registry.list_models():
            if "cloud" in spec.tiers:
                self.models.get(spec)

    def converse(
        self, *, modelId: str, messages: list[dict[str, Any]], inferenceConfig: dict[str, Any]
    ) -> dict[str, Any]:
        if self.throttle is not None and not self.throttle.admit():
            raise _client_error(
                "ThrottlingException", "Too many requests, please wait before trying again.", 429
            )
        spec = next((m for m in self.registry.list_models() if m.model_id == modelId), None)
        if spec is None or "cloud" not in spec.tiers:
            raise _client_error("ValidationException", "The provided model identifier is invalid.")
        prompt = "".join(
            block.get("text", "") for message in messages for block in message["content"]
        )
        max_tokens = int(inferenceConfig.get("maxTokens", DEFAULT_MAX_TOKENS))
        inference = self.models.get(spec).run(prompt)
        answer = generate(spec.model_id, prompt, max_tokens)
        input_tokens = estimate_tokens(prompt)
        output_tokens = answer.output_tokens
        median_ms = compute_time_ms(spec.latency_ms, input_tokens + output_tokens, 1.0)
        latency_ms = median_ms * self._rng.lognormvariate(0.0, self.LATENCY_SIGMA)
        latency_ms += inference.compute_ms
        if self.time_scale > 0:
            time.sleep(latency_ms * self.time_scale / 1000)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
            "stopReason": "max_tokens" if answer.finish_reason == "length" else "end_turn",
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": round(latency_ms)},
        }


class CloudSimulator:
    """The offline cloud tier: BedrockCloud's own code (`converse`) over LocalBedrockRuntime.

    Addressed by registry model id (offline there is no Bedrock model id to map it to). Its
    latency is modelled, not waited for, so a timeout never cuts it short.
    """

    def __init__(self, runtime: LocalBedrockRuntime) -> None:
        self.client = runtime

    def converse(self, call: CloudCall) -> CloudAnswer:
        return converse(self.client, call.model_id, call)


def _client_error(code: str, message: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Converse")
