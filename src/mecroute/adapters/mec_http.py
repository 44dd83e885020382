"""HTTP client for the MEC nodes' API (the same API offline and on ECS Fargate).

Kept-alive connections from one urllib3 pool per process (urllib3 is in Lambda through botocore);
requests and answers are the types of domain/node_protocol.py; a node's error is raised by its
code (`TierUnavailable.node_error`), never recognised by its text.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import urllib3
from pydantic import BaseModel, ValidationError

from mecroute.adapters.openai_server import OpenAIServerNodes, speaks_openai
from mecroute.adapters.ports import NodeAnswer, NodeCall, NodeHealth
from mecroute.domain import node_protocol as wire
from mecroute.domain.errors import TierUnavailable

CONNECT_TIMEOUT_S = 1.0
LOAD_TIMEOUT_S = 30.0
EVICT_TIMEOUT_S = 5.0
# Per node: enough kept-alive connections for a gateway's or an execute Lambda's concurrency.
CONNECTIONS_PER_NODE = 64
# One pool for the process: every HttpMecNodes shares its kept-alive connections. No retries:
# a failed call is the tier failing, and the pipeline's fallback chain decides what is next.
_POOL = urllib3.PoolManager(num_pools=64, maxsize=CONNECTIONS_PER_NODE, retries=False)
_A = TypeVar("_A", bound=BaseModel)


class HttpMecNodes:
    """The built-in nodes' API; an `openai+http://` endpoint is your own OpenAI-compatible
    model server, spoken to by OpenAIServerNodes."""

    def __init__(self, health_timeout_s: float = 0.5) -> None:
        self.health_timeout_s = health_timeout_s
        self.servers = OpenAIServerNodes(health_timeout_s)

    def health(self, endpoint: str) -> NodeHealth:
        if speaks_openai(endpoint):
            return self.servers.health(endpoint)
        timeout_s = self.health_timeout_s
        body = self._call("GET", f"{endpoint}/health", None, timeout_s, wire.HealthAnswer)
        return NodeHealth(
            in_flight=body.in_flight,
            queue_depth=body.queue_depth,
            slots=body.slots,
            hot_models=list(body.loaded_models),
            status=body.status,
            service_ms=body.service_ms,
        )

    def infer(self, endpoint: str, call: NodeCall) -> NodeAnswer:
        if speaks_openai(endpoint):
            return self.servers.infer(endpoint, call)
        # The router already models the network from the request's telemetry and the site's
        # distance; the node emulating it too would count the same round trip twice.
        request = wire.InferRequest(
            model_id=call.model_id,
            prompt=call.prompt,
            output_tokens=call.output_tokens,
            max_tokens=call.max_tokens,
            emulate_network=False,
        )
        body = self._call("POST", f"{endpoint}/infer", request, call.timeout_s, wire.InferAnswer)
        return NodeAnswer(
            output=body.output,
            compute_ms=body.compute_ms,
            queued_ms=body.queued_ms,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            finish_reason=body.finish_reason,
        )

    def load(self, endpoint: str, model_id: str, artifact_key: str, sha256: str) -> None:
        if speaks_openai(endpoint):
            return self.servers.load(endpoint, model_id, artifact_key, sha256)
        request = wire.LoadRequest(artifact_key=artifact_key, sha256=sha256)
        self._call(
            "POST", f"{endpoint}/models/{model_id}/load", request, LOAD_TIMEOUT_S, wire.LoadAnswer
        )

    def evict(self, endpoint: str, model_id: str) -> None:
        if speaks_openai(endpoint):
            return self.servers.evict(endpoint, model_id)
        try:
            self._call(
                "DELETE", f"{endpoint}/models/{model_id}", None, EVICT_TIMEOUT_S, wire.EvictAnswer
            )
        except TierUnavailable as refused:
            if refused.node_error != wire.NodeErrorCode.MODEL_NOT_LOADED:  # already gone is fine
                raise

    @staticmethod
    def _call(
        method: str, url: str, request: BaseModel | None, timeout_s: float, answer: type[_A]
    ) -> _A:
        if not url.startswith(("http://", "https://")):
            raise TierUnavailable(f"node endpoint {url!r} is not an HTTP URL")
        body = request.model_dump_json().encode() if request is not None else None
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_S, timeout_s), read=timeout_s)
        try:
            response = _POOL.request(
                method,
                url,
                body=body,
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        # A node killed mid-answer surfaces as a reset, a cut-off body or a timeout: all are
        # the node failing.
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TierUnavailable(f"{method} {url} failed: {error!r}") from None
        if response.status >= 400:
            raise _refusal(method, url, response)
        try:
            return answer.model_validate_json(response.data)
        except ValidationError as error:
            # A 200 answer without the fields the node API promises is the node failing too.
            raise TierUnavailable(f"{method} {url} answer is malformed: {error}") from None


def _refusal(method: str, url: str, response: Any) -> TierUnavailable:
    try:
        error = wire.NodeErrorBody.model_validate_json(response.data)
    except ValidationError:
        text = bytes(response.data[:300]).decode(errors="replace")
        error = wire.NodeErrorBody(error=f"HTTP{response.status}", message=text)
    detail = f"{error.error}: {error.message}"
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        detail += f" (Retry-After {retry_after}s)"
    if error.problems:
        detail += f" {json.dumps(error.problems)}"
    return wire.node_error(
        f"{method} {url} answered {response.status}: {detail}", error.error, response.status
    )
