"""A MEC node answers only requests signed with its site's key for the route's scope, bounds the
answer by the model's context window and stops work whose caller has gone (real processes)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.node_keys import NodeAccess, NodeNetworks
from mecroute.adapters.ports import NodeCall
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import compute_time_ms
from mecroute.domain.node_auth import signed_headers
from mecroute.mec.profiles import PROFILES

from .nodes import Aws, Fleet, call, tokens_for_hold, wait_until

SITE = "mec-auth-1"
MODEL = "edge-small-v1"
INFER = {"model_id": MODEL, "prompt": "What is the capital of France?", "max_tokens": 4}


@pytest.fixture
def endpoint(aws: Aws, fleet: Fleet) -> str:
    return fleet.start(node_id=SITE, time_scale=0.0, preload=(MODEL,)).endpoint


def headers_for(fleet: Fleet, body: dict, at: float) -> dict[str, str]:
    raw = json.dumps(body).encode()  # what `call` sends
    return signed_headers(fleet.keys.key(SITE, "infer"), SITE, "infer", "POST", "/infer", raw, at)


def test_a_signed_request_is_served(endpoint: str) -> None:
    reply = call(f"{endpoint}/infer", "POST", INFER)

    assert reply.status == 200
    assert reply.body["output_tokens"] == 4


def test_an_unsigned_request_is_refused_401_naming_what_is_missing(endpoint: str) -> None:
    reply = call(f"{endpoint}/infer", "POST", INFER, headers={})

    assert reply.status == 401
    assert reply.body["error"] == "Unauthenticated"
    assert "x-mecroute-signature" in reply.body["message"]
    assert "output" not in reply.body


def test_a_request_signed_with_another_key_is_refused_401(endpoint: str, fleet: Fleet) -> None:
    raw = json.dumps(INFER).encode()
    forged = signed_headers(bytes(32), SITE, "infer", "POST", "/infer", raw, time.time())

    reply = call(f"{endpoint}/infer", "POST", INFER, headers=forged)

    assert (reply.status, reply.body["error"]) == (401, "Unauthenticated")
    assert "does not match" in reply.body["message"]


def test_a_replayed_request_is_refused_401(endpoint: str, fleet: Fleet) -> None:
    headers = headers_for(fleet, INFER, time.time())

    first = call(f"{endpoint}/infer", "POST", INFER, headers=headers)
    again = call(f"{endpoint}/infer", "POST", INFER, headers=headers)

    assert first.status == 200
    assert again.status == 401
    assert "replayed" in again.body["message"]


def test_a_stale_signature_is_refused_401(endpoint: str, fleet: Fleet) -> None:
    stale = headers_for(fleet, INFER, time.time() - 300)

    reply = call(f"{endpoint}/infer", "POST", INFER, headers=stale)

    assert reply.status == 401
    assert "window" in reply.body["message"]


def test_the_inference_key_cannot_load_or_evict_models(endpoint: str, aws: Aws) -> None:
    spec = aws.specs["edge-large-v1"]
    load = {"artifact_key": spec.artifact_key, "sha256": spec.sha256}

    refused = call(f"{endpoint}/models/edge-large-v1/load", "POST", load, scope="infer")
    evict = call(f"{endpoint}/models/{MODEL}", "DELETE", scope="infer")
    loaded = call(f"{endpoint}/models/edge-large-v1/load", "POST", load)  # the control key

    assert (refused.status, refused.body["error"]) == (403, "Forbidden")
    assert "needs the control key" in refused.body["message"]
    assert evict.status == 403
    assert loaded.status == 200
    assert MODEL in call(f"{endpoint}/health").body["loaded_models"]


def test_the_control_key_cannot_run_inference(endpoint: str) -> None:
    reply = call(f"{endpoint}/infer", "POST", INFER, scope="control")

    assert reply.status == 403


def test_liveness_needs_no_key_and_tells_nothing(endpoint: str) -> None:
    reply = call(f"{endpoint}/livez", headers={})

    assert reply.status == 200
    assert reply.body == {"status": "ok"}
    assert call(f"{endpoint}/health", headers={}).status == 401


def test_the_client_calls_only_endpoints_inside_the_node_networks(
    endpoint: str, fleet: Fleet
) -> None:
    outside = HttpMecNodes(access=NodeAccess(fleet.keys.access().keyring, NodeNetworks.parse(
        "10.0.0.0/16,.mecroute-dev.internal")))  # fmt: skip
    call_ = NodeCall(MODEL, "hi", output_tokens=4, max_tokens=4, timeout_s=5)

    with pytest.raises(TierUnavailable, match="outside the registered node networks"):
        outside.infer(endpoint, SITE, call_)
    with pytest.raises(TierUnavailable, match="no infer key"):
        fleet.client().infer(endpoint, "mec-elsewhere-1", call_)
    assert fleet.client().infer(endpoint, SITE, call_).output_tokens == 4


def test_the_work_charged_is_bounded_by_the_models_context_window(endpoint: str, aws: Aws) -> None:
    spec = aws.specs[MODEL]
    assert spec.context_window_tokens is not None
    speed = PROFILES["metro-5g"].speed_factor
    bound_ms = compute_time_ms(spec.latency_ms, spec.context_window_tokens, speed)

    # The earlier protocol: output_tokens is the length charged (40 such calls filled a node)
    reply = call(
        f"{endpoint}/infer", "POST", {**INFER, "max_tokens": None, "output_tokens": 100_000}
    )

    assert reply.status == 200
    assert reply.body["compute_ms"] <= bound_ms
    assert reply.body["output_tokens"] < spec.context_window_tokens


def test_work_stops_when_the_caller_goes(aws: Aws, fleet: Fleet) -> None:
    # Emulated time 50x slower, so an answer the context window allows holds a slot ~60 s.
    scale = 50.0
    node = fleet.start(node_id=SITE, slots=1, queue_limit=4, preload=(MODEL,), time_scale=scale)
    tokens = tokens_for_hold(aws.specs[MODEL], 60_000 / scale)
    slow = {"model_id": MODEL, "prompt": "Summarise the report.", "output_tokens": tokens}

    # Given a request that would hold the only slot for a minute, and one queued behind it
    for _ in range(2):
        with pytest.raises((TimeoutError, socket.timeout, OSError)):
            call(f"{node.endpoint}/infer", "POST", slow, timeout_s=0.5)

    # Then both callers' work stops: the slot and the queue are free long before a minute
    def idle() -> bool:
        health = call(f"{node.endpoint}/health").body
        return health["in_flight"] == 0 and health["queue_depth"] == 0

    wait_until(idle, "the abandoned requests to release the slot and the queue")
    assert call(f"{node.endpoint}/infer", "POST", INFER).status == 200
