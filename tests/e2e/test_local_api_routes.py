"""Every route docs/openapi.json documents works offline, over real HTTP on 127.0.0.1: the local
API runs the pipeline for inference and the real `api_reads` and `feedback` Lambda handlers for
the rest (an API Gateway proxy event in, the handler's response out)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mecroute.domain.openapi import DOCUMENT
from mecroute.local.api import serve
from mecroute.local.runtime import OfflineRuntime

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[httpx.Client, OfflineRuntime]]:
    with OfflineRuntime(time_scale=0) as runtime:
        server = serve(runtime, 0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                yield client, runtime
        finally:
            server.stop()


@pytest.fixture(scope="module")
def answered(api: tuple[httpx.Client, OfflineRuntime]) -> dict[str, Any]:
    client, runtime = api
    response = client.post(
        "/v1/inference", json={"prompt": "What is the capital of France?", "user_id": "ada"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    # The record is stored off the caller's path (RecordOutcome is asynchronous): the routes
    # that read it, the decision and feedback on it, come after it is there.
    runtime.settle()
    return body


# The OpenAI-compatible route (issue 14) is tested with the openai client by its own tests.
CHAT = ("/v1/chat/completions", "POST")


def documented_routes() -> list[tuple[str, str]]:
    document = json.loads(DOCUMENT.read_text())
    routes = [(path, verb.upper()) for path, item in document["paths"].items() for verb in item]
    return [route for route in routes if route != CHAT]


def test_the_document_lists_the_routes_these_tests_cover():
    assert set(documented_routes()) == {
        ("/v1/inference", "POST"),
        ("/v1/models", "GET"),
        ("/v1/nodes", "GET"),
        ("/v1/usage", "GET"),
        ("/v1/stats", "GET"),
        ("/v1/decisions/{request_id}", "GET"),
        ("/v1/feedback", "POST"),
    }


@pytest.mark.parametrize(("path", "method"), documented_routes())
def test_every_documented_route_is_served(api, answered, path: str, method: str):
    client, _ = api
    url = path.replace("{request_id}", answered["request_id"])
    body = {"request_id": answered["request_id"], "user_id": "ada", "rating": 4}
    if path == "/v1/inference":
        body = {"prompt": "Translate 'good morning' to French."}

    response = client.request(method, url, json=body if method == "POST" else None)

    assert response.status_code in (200, 202), (path, response.text)
    assert response.headers["content-type"].startswith("application/json")


def test_reads_come_from_the_api_reads_handler(api, answered):
    client, runtime = api
    runtime.settle()  # the success is stored after it is answered

    models = client.get("/v1/models").json()
    record = client.get(f"/v1/decisions/{answered['request_id']}").json()
    missing = client.get("/v1/decisions/not-a-request-we-made")
    malformed = client.get("/v1/decisions/has spaces")

    assert models["data"] or models.get("models")
    assert record["request_id"] == answered["request_id"]
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFound"
    assert malformed.status_code == 400
    assert malformed.json()["problems"][0]["field"] == "request_id"


def test_usage_shows_a_callers_spend_and_names_a_bad_user_id(api, answered):
    client, _ = api
    usage = client.get("/v1/usage", params={"user_id": "anonymous"})
    malformed = client.get("/v1/usage", params={"user_id": "has spaces"})

    assert usage.status_code == 200, usage.text
    body = usage.json()
    assert body["user_id"] == "anonymous"
    assert (body["day"]["limit_usd"], body["month"]["remaining_usd"]) == (None, None)
    assert body["day"]["resets_at"].endswith("T00:00:00+00:00")
    assert malformed.status_code == 400
    assert malformed.json()["problems"][0]["field"] == "user_id"


def test_feedback_is_accepted_once_and_a_repeat_gets_the_first_receipt(api, answered):
    client, _ = api
    verdict = {"request_id": answered["request_id"], "user_id": "ada", "rating": 5}

    first = client.post("/v1/feedback", json=verdict)
    again = client.post("/v1/feedback", json=verdict)

    assert first.status_code == 202, first.text
    assert first.json()["accepted"] is True
    assert again.json() == first.json()


def test_feedback_names_the_field_it_refuses_and_404s_an_unknown_request(api, answered):
    client, _ = api

    invalid = client.post("/v1/feedback", json={"request_id": answered["request_id"], "rating": 9})
    unknown = client.post("/v1/feedback", json={"request_id": "never-sent", "rating": 3})
    other_user = client.post(
        "/v1/feedback", json={"request_id": answered["request_id"], "user_id": "eve", "rating": 1}
    )

    assert invalid.status_code == 400
    assert [p["field"] for p in invalid.json()["problems"]] == ["rating"]
    assert unknown.status_code == 404
    assert other_user.status_code == 404
