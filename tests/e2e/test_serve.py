"""`mecroute serve` as a real process, spoken to over HTTP on loopback."""

import json
import signal
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def call(url: str, method: str = "GET", body: object = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_inference_answers_with_decision_and_result(server, recorded):
    url, _, _ = server
    status, body = call(f"{url}/v1/inference", "POST", {"prompt": "What is the capital of France?"})

    assert status == 200, body
    assert body["status"] == "succeeded"
    assert body["decision"]["primary"]["tier"] == body["result"]["tier"]
    assert body["decision"]["reason"]

    record = recorded(body["request_id"])
    assert record == body


def test_invalid_request_is_400_with_the_field_named(server):
    url, _, _ = server
    status, body = call(f"{url}/v1/inference", "POST", {"prompt": "hi", "privacy": "secret"})

    assert status == 400
    assert body["error"] == "InvalidRequest"
    assert body["problems"][0]["field"] == "privacy"


def test_malformed_json_and_unknown_fields_are_400(server):
    url, _, _ = server
    assert call(f"{url}/v1/inference", "POST", raw=b"{not json")[0] == 400
    status, body = call(f"{url}/v1/inference", "POST", {"prompt": "hi", "colour": "red"})
    assert status == 400
    assert body["problems"][0]["field"] == "colour"


def test_no_feasible_route_is_422(server):
    url, _, _ = server
    request = {"prompt": "hi", "privacy": "strict", "sla": {"min_accuracy": 0.99}}
    status, body = call(f"{url}/v1/inference", "POST", request)

    assert status == 422
    assert body["error"] == "NoFeasibleRoute"


def test_catalogue_routes(server):
    url, _, _ = server
    assert call(f"{url}/health")[1]["mec_nodes_running"] >= 2
    models = call(f"{url}/v1/models")[1]["models"]
    assert {"device", "mec", "cloud"} <= {tier for m in models for tier in m["tiers"]}
    assert len(call(f"{url}/v1/nodes")[1]["nodes"]) >= 2
    assert call(f"{url}/v1/decisions/does-not-exist")[0] == 404


def test_sigterm_stops_the_server_and_its_mec_nodes(server):
    url, process, node_urls = server
    assert all("endpoint" not in n for n in call(f"{url}/v1/nodes")[1]["nodes"])

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 0
    time.sleep(0.2)
    for node_url in node_urls:
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{node_url}/livez", timeout=2)
