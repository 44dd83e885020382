"""Bring your own model server: a node entry `openai+http://...` is spoken to in the OpenAI
protocol. The built-in node serves that protocol too, so a real node over real HTTP stands in
for vLLM, llama.cpp, Ollama or TGI."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.ports import NodeCall
from mecroute.agents.resource import probe
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.node_auth import signed_headers
from mecroute.domain.registry import NodeRecord

from .nodes import Aws, Fleet

PROMPT = "What is the capital of France?"
MODEL = "edge-small-v1"


def limited_to(max_tokens: int) -> NodeCall:
    """The router expects a one-token answer; the caller allows `max_tokens`."""
    return NodeCall(MODEL, PROMPT, output_tokens=1, max_tokens=max_tokens, timeout_s=30)


NODE = "mec-byo-1"


@pytest.fixture
def node_url(aws: Aws, fleet: Fleet) -> str:
    # time_scale 0: the answer is not slowed to the emulated compute time.
    return fleet.start(node_id=NODE, time_scale=0.0, preload=(MODEL,)).endpoint


@pytest.fixture
def nodes(fleet: Fleet, node_url: str) -> HttpMecNodes:
    return fleet.client()


def test_the_execute_agents_client_speaks_openai_to_a_model_server(
    node_url: str, nodes: HttpMecNodes
) -> None:
    server = f"openai+{node_url}"

    health = nodes.health(server, NODE)
    answer = nodes.infer(server, NODE, limited_to(500))
    cut = nodes.infer(server, NODE, limited_to(2))

    assert health.hot_models == [MODEL]
    assert answer.output.startswith(f"[{MODEL}, simulated]")
    assert answer.output_tokens == len(answer.output.split()) > 2
    assert answer.input_tokens > 0
    assert answer.finish_reason == "stop"
    assert (cut.output_tokens, cut.finish_reason) == (2, "length")
    assert answer.output.startswith(cut.output)


def test_a_model_server_loads_its_own_models(node_url: str, nodes: HttpMecNodes) -> None:
    server = f"openai+{node_url}"

    nodes.load(server, NODE, MODEL, "ignored", "ignored")  # it serves it: nothing to do
    nodes.evict(server, NODE, MODEL)  # the server decides what it keeps

    with pytest.raises(TierUnavailable, match="loads its own models"):
        nodes.load(server, NODE, "edge-large-v1", "zoo/edge-large-v1.onnx", "0" * 64)
    assert nodes.health(server, NODE).hot_models == [MODEL]


def test_a_model_server_needs_no_heartbeat_but_a_built_in_node_does(
    node_url: str, nodes: HttpMecNodes
) -> None:
    stale = {"node_id": NODE, "site": "byo", "heartbeat_at": 0.0}

    server = probe(NodeRecord(endpoint=f"openai+{node_url}", **stale), nodes, 1e9, 15)
    node = probe(NodeRecord(endpoint=node_url, **stale), nodes, 1e9, 15)

    assert (server.healthy, server.hot_models) == (True, [MODEL])
    assert not node.healthy
    assert "heartbeat stale" in node.unhealthy_reason


def test_an_unreachable_model_server_is_the_tier_failing(fleet: Fleet) -> None:
    fleet.keys.add(NODE)
    with pytest.raises(TierUnavailable):
        fleet.client().health("openai+http://127.0.0.1:9", NODE)


def test_the_official_client_reads_the_built_in_node_as_an_openai_server(
    node_url: str, fleet: Fleet
) -> None:
    def sign(request: httpx.Request) -> None:
        request.headers.update(
            signed_headers(
                fleet.keys.key(NODE, "infer"),
                NODE,
                "infer",
                request.method,
                request.url.raw_path.decode(),
                request.content,
                time.time(),
            )
        )

    signing = httpx.Client(event_hooks={"request": [sign]})
    client = openai.OpenAI(
        base_url=f"{node_url}/v1", api_key="none", max_retries=0, http_client=signing
    )

    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=5
    )

    assert [model.id for model in client.models.list()] == [MODEL]
    assert completion.model == MODEL
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 5


def test_the_node_protocol_passes_the_callers_max_tokens(
    node_url: str, nodes: HttpMecNodes
) -> None:
    """The router's estimate (output_tokens) no longer caps the answer: the caller's limit does."""
    answer = nodes.infer(node_url, NODE, limited_to(500))

    assert answer.output_tokens > 1
    assert answer.finish_reason == "stop"
