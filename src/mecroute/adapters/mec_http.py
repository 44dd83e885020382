"""HTTP client for the MEC nodes' API (the same API offline and on ECS Fargate).

Kept-alive connections from one urllib3 pool per process (urllib3 is in Lambda through botocore);
requests and answers are the types of domain/node_protocol.py; a node's error is raised by its
code (`TierUnavailable.node_error`), never recognised by its text.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from pydantic import BaseModel, ValidationError

from mecroute.adapters.node_keys import NodeAccess
from mecroute.adapters.openai_server import OpenAIServerNodes, json_request, speaks_openai
from mecroute.adapters.ports import NodeAnswer, NodeCall, NodeHealth
from mecroute.domain import node_protocol as wire
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.node_auth import scope_for

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
    model server, spoken to by OpenAIServerNodes. Every call goes only to an endpoint inside
    the registered node networks and is signed with the node's site key (adapters/node_keys.py):
    load and evict with the control key, the rest with the infer key."""

    def __init__(self, health_timeout_s: float = 0.5, access: NodeAccess | None = None) -> None:
        self.health_timeout_s = health_timeout_s
        self.access = access or NodeAccess.from_env()
        self.servers = OpenAIServerNodes(health_timeout_s, self.access)

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        if speaks_openai(endpoint):
            return self.servers.health(endpoint, node_id)
        timeout_s = self.health_timeout_s
        body = self._call(node_id, "GET", f"{endpoint}/health", None, timeout_s, wire.HealthAnswer)
        return NodeHealth(
            in_flight=body.in_flight,
            queue_depth=body.queue_depth,
            slots=body.slots,
            hot_models=list(body.loaded_models),
            status=body.status,
            service_ms=body.service_ms,
        )

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
        if speaks_openai(endpoint):
            return self.servers.infer(endpoint, node_id, call)
        # The router already models the network from the request's telemetry and the site's
        # distance; the node emulating it too would count the same round trip twice.
        request = wire.InferRequest(
            model_id=call.model_id,
            prompt=call.prompt,
            output_tokens=call.output_tokens,
            max_tokens=call.max_tokens,
            emulate_network=False,
        )
        url = f"{endpoint}/infer"
        body = self._call(node_id, "POST", url, request, call.timeout_s, wire.InferAnswer)
        return NodeAnswer(
            output=body.output,
            compute_ms=body.compute_ms,
            queued_ms=body.queued_ms,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            finish_reason=body.finish_reason,
        )

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None:
        if speaks_openai(endpoint):
            return self.servers.load(endpoint, node_id, model_id, artifact_key, sha256)
        request = wire.LoadRequest(artifact_key=artifact_key, sha256=sha256)
        url = f"{endpoint}/models/{model_id}/load"
        self._call(node_id, "POST", url, request, LOAD_TIMEOUT_S, wire.LoadAnswer)

    def evict(self, endpoint: str, node_id: str, model_id: str) -> None:
        if speaks_openai(endpoint):
            return self.servers.evict(endpoint, node_id, model_id)
        url = f"{endpoint}/models/{model_id}"
        try:
            self._call(node_id, "DELETE", url, None, EVICT_TIMEOUT_S, wire.EvictAnswer)
        except TierUnavailable as refused:
            if refused.node_error != wire.NodeErrorCode.MODEL_NOT_LOADED:  # already gone is fine
                raise

    def _call(
        self,
        node_id: str,
        method: str,
        url: str,
        request: BaseModel | None,
        timeout_s: float,
        answer: type[_A],
    ) -> _A:
        # Errors name the node and the route, never its address: they reach answers and records.
        path = urlsplit(url).path
        where = f"node {node_id}: {method} {path}"
        if not url.startswith(("http://", "https://")):
            raise TierUnavailable(f"node {node_id}: its endpoint is not an HTTP URL")
        body = request.model_dump_json().encode() if request is not None else b""
        scope = scope_for(method, path)
        headers = self.access.headers(node_id, url, method, body, scope)
        try:
            response = json_request(_POOL, method, url, body, headers, timeout_s)
        # A node killed mid-answer surfaces as a reset, a cut-off body or a timeout: all are
        # the node failing.
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # The exception's text names the address; its kind is enough to act on.
            kind = type(error).__name__
            timed_out = isinstance(error, (urllib3.exceptions.TimeoutError, TimeoutError))
            raise TierUnavailable(
                f"{where} failed: {'timed out' if timed_out else 'connection failed'} ({kind})"
            ) from None
        if response.status >= 400:
            raise _refusal(where, response)
        try:
            return answer.model_validate_json(response.data)
        except ValidationError as error:
            # A 200 answer without the fields the node API promises is the node failing too.
            raise TierUnavailable(f"{where} answer is malformed: {error}") from None


def _refusal(where: str, response: Any) -> TierUnavailable:
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
        f"{where} answered {response.status}: {detail}", error.error, response.status
    )
