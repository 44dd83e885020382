"""A MEC node entry served by your own OpenAI-compatible model server (vLLM, llama.cpp server,
Ollama, TGI): its endpoint is written `openai+http://host:port`, and this client speaks the
OpenAI protocol to it. Health and hot models come from `GET /v1/models` (`/health` when the
server has no model list); the server loads its own models, so load and evict do nothing."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import urllib3
from pydantic import BaseModel, ConfigDict, ValidationError

from mecroute.adapters.ports import NodeAnswer, NodeCall, NodeHealth
from mecroute.domain.errors import TierUnavailable

if TYPE_CHECKING:
    from mecroute.adapters.node_keys import NodeAccess

SCHEME_PREFIX = "openai+"
CONNECT_TIMEOUT_S = 1.0
# A model server holds many requests at once (continuous batching); the router is told so.
ASSUMED_SLOTS = 8
_POOL = urllib3.PoolManager(num_pools=16, maxsize=64, retries=False)
_M = TypeVar("_M", bound=BaseModel)


def json_request(
    pool: urllib3.PoolManager,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
) -> urllib3.BaseHTTPResponse:
    """One JSON request over a pool of kept-alive connections: a node or model server that does
    not accept within CONNECT_TIMEOUT_S is given up on, an answer is waited for `timeout_s`."""
    timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_S, timeout_s), read=timeout_s)
    return pool.request(
        method,
        url,
        body=body or None,
        headers={"Content-Type": "application/json", **headers},
        timeout=timeout,
    )


def speaks_openai(endpoint: str) -> bool:
    return endpoint.startswith(SCHEME_PREFIX)


def server_url(endpoint: str) -> str:
    return endpoint.removeprefix(SCHEME_PREFIX).rstrip("/")


class _Lenient(BaseModel):
    # Built when a node speaking OpenAI is first called, not at every agent's cold start:
    # most deployments have none.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _Card(_Lenient):
    id: str


class _ModelList(_Lenient):
    data: list[_Card]


class _Message(_Lenient):
    content: str | None = None


class _Choice(_Lenient):
    message: _Message
    finish_reason: str | None = None


class _Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(_Lenient):
    choices: list[_Choice]
    usage: _Usage | None = None


class OpenAIServerNodes:
    """The MecNodes port for `openai+` endpoints. The registry model id is the model name the
    server serves (vLLM `--served-model-name`, `ollama cp`)."""

    def __init__(self, health_timeout_s: float, access: NodeAccess) -> None:
        self.health_timeout_s = health_timeout_s
        self.access = access

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        return NodeHealth(
            in_flight=0,
            queue_depth=0,
            slots=ASSUMED_SLOTS,
            hot_models=self.models(endpoint, node_id),
        )

    def models(self, endpoint: str, node_id: str) -> list[str]:
        base, timeout_s = server_url(endpoint), self.health_timeout_s
        status, body = self._request(node_id, "GET", f"{base}/v1/models", None, timeout_s)
        if status == 404:  # a server without a model list: alive is all it can say
            url = f"{base}/health"
            _checked("GET", url, *self._request(node_id, "GET", url, None, timeout_s))
            return []
        listed = _parsed(_ModelList, _checked("GET", f"{base}/v1/models", status, body))
        # Ollama lists `name:latest` for what it serves as `name`.
        return [card.id.removesuffix(":latest") for card in listed.data]

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
        url = f"{server_url(endpoint)}/v1/chat/completions"
        request = {
            "model": call.model_id,
            "messages": [{"role": "user", "content": call.prompt}],
            "max_tokens": call.max_tokens,
        }
        started = time.perf_counter()
        status, body = self._request(node_id, "POST", url, request, call.timeout_s)
        answer = _parsed(_Completion, _checked("POST", url, status, body))
        served_ms = (time.perf_counter() - started) * 1000
        if not answer.choices:
            raise TierUnavailable(f"POST {url} answered no choices")
        choice, usage = answer.choices[0], answer.usage or _Usage()
        finish: Literal["stop", "length"] = "length" if choice.finish_reason == "length" else "stop"
        return NodeAnswer(
            output=choice.message.content or "",
            compute_ms=round(served_ms, 3),
            queued_ms=0.0,
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            finish_reason=finish,
        )

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None:
        if model_id not in self.models(endpoint, node_id):
            raise TierUnavailable(
                f"{server_url(endpoint)} does not serve {model_id}: an OpenAI-compatible server "
                "loads its own models (serve it under that name)"
            )

    def evict(self, endpoint: str, node_id: str, model_id: str) -> None:
        """The server decides what it keeps loaded."""

    def _request(
        self, node_id: str, method: str, url: str, payload: Any, timeout_s: float
    ) -> tuple[int, bytes]:
        if not url.startswith(("http://", "https://")):
            raise TierUnavailable(f"model server {url!r} is not an HTTP URL")
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = self.access.headers(node_id, url, method, body, "infer", required=False)
        try:
            response = json_request(_POOL, method, url, body, headers, timeout_s)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TierUnavailable(f"{method} {url} failed: {error!r}") from None
        return response.status, bytes(response.data)


def _checked(method: str, url: str, status: int, body: bytes) -> bytes:
    if status >= 400:
        detail = body[:300].decode(errors="replace")
        raise TierUnavailable(f"{method} {url} answered {status}: {detail}")
    return body


def _parsed(model: type[_M], body: bytes) -> _M:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise TierUnavailable(f"the model server's answer is malformed: {error}") from None
