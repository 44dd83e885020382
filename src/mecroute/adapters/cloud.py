"""The cloud tier: Amazon Bedrock's Converse API, or a local simulator with the same interface."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from mecroute.adapters.ports import CloudAnswer, ModelRegistry
from mecroute.domain.errors import TierUnavailable
from mecroute.mec.engine import emulated_compute_ms
from mecroute.mec.loader import VerifiedModels

_RETRYABLE = {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"}


class BedrockCloud:
    """Calls Converse on the configured Bedrock model id (the registry's cloud model maps to it)."""

    def __init__(self, client: Any, bedrock_model_id: str) -> None:
        self.client = client
        self.bedrock_model_id = bedrock_model_id

    def converse(self, model_id: str, prompt: str, max_tokens: int) -> CloudAnswer:
        started = time.perf_counter()
        try:
            response = self.client.converse(
                modelId=self.bedrock_model_id,
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": max_tokens},
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            kind = "throttled" if code in _RETRYABLE else "failed"
            raise TierUnavailable(f"Bedrock {kind}: {code}") from None
        text = "".join(
            block.get("text", "") for block in response["output"]["message"]["content"]
        )
        usage = response.get("usage", {})
        return CloudAnswer(
            output=text,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            latency_ms=float(
                response.get("metrics", {}).get(
                    "latencyMs", (time.perf_counter() - started) * 1000
                )
            ),
        )


class CloudSimulator:
    """Runs the zoo's cloud-class graph and reports a frontier model's latency profile.

    Latency is modelled rather than slept so offline runs stay fast: the emulated compute
    of the cloud model for the request's tokens, plus the measured onnxruntime time.
    """

    def __init__(self, registry: ModelRegistry, models: VerifiedModels) -> None:
        self.registry = registry
        self.models = models

    def converse(self, model_id: str, prompt: str, max_tokens: int) -> CloudAnswer:
        spec = next((m for m in self.registry.list_models() if m.model_id == model_id), None)
        if spec is None:
            raise TierUnavailable(f"cloud simulator has no model {model_id}")
        inference = self.models.get(spec).run(prompt)
        input_tokens = max(1, len(prompt) // 4)
        latency = emulated_compute_ms(spec.latency_ms, input_tokens + max_tokens, 1.0)
        return CloudAnswer(
            output=inference.output,
            input_tokens=input_tokens,
            output_tokens=max_tokens,
            latency_ms=latency + inference.compute_ms,
        )
