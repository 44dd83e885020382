"""Callers are who they authenticate as, over real HTTP on 127.0.0.1: with API keys, the local
API and the edge gateway run a request as the user its key names (the body's user_id is
ignored), answer a decision only to its owner (another caller gets the missing id's 404) and
take feedback only from it. The regional API's mapping template is held to the same rule in
tests/infra/test_api_templates.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mecroute.domain.openapi import document
from mecroute.gateway.auth import FileApiKeys, key_hash
from mecroute.local.api import serve
from mecroute.local.gateways import start_gateways
from mecroute.local.runtime import OfflineRuntime

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]
KEYS = {"alice": "sk-alice-0123456789", "bob": "sk-bob-9876543210",
        "carol": "sk-carol-5555555555", "dave": "sk-dave-7777777777",
        "erin": "sk-erin-3333333333"}  # fmt: skip
# Each caller's token bucket at the gateway: 4 requests, then one per 100 s (no test waits that).
CALLER_BURST = 4
CALLER_RATE_PER_S = 0.01
PROMPT = "What is the capital of France?"
# Callers send their key where the published API document says.
API_KEY_HEADER = document()["components"]["securitySchemes"]["apiKey"]["name"]


def as_user(user: str) -> dict[str, str]:
    return {API_KEY_HEADER: KEYS[user]}


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("identity")
    keys_file = folder / "keys.json"
    items = [{"key_sha256": key_hash(key), "user_id": user} for user, key in KEYS.items()]
    keys_file.write_text(json.dumps({"keys": items}))
    with pytest.MonkeyPatch.context() as env, OfflineRuntime(time_scale=0) as runtime:
        # The gateways' settings read these.
        env.setenv("API_KEYS_FILE", str(keys_file))
        env.setenv("CALLER_BURST", str(CALLER_BURST))
        env.setenv("CALLER_RATE_PER_S", str(CALLER_RATE_PER_S))
        gateways = start_gateways(runtime, folder)
        api = serve(runtime, 0, keys=FileApiKeys(keys_file)).start()
        site = sorted(gateways)[0]
        try:
            with (
                httpx.Client(base_url=api.url, timeout=60) as regional,
                httpx.Client(base_url=gateways[site][1].url, timeout=60) as edge,
            ):
                yield {"runtime": runtime, "regional": regional, "edge": edge}
        finally:
            api.stop()
            for gateway, served in gateways.values():
                served.stop()
                gateway.stop()


@pytest.fixture(scope="module")
def alices(offline: dict[str, Any]) -> dict[str, Any]:
    """alice's answered request whose body claimed to be mallory's, its record stored."""
    answer = offline["regional"].post(
        "/v1/inference", json={"prompt": PROMPT, "user_id": "mallory"}, headers=as_user("alice")
    )
    assert answer.status_code == 200, answer.text
    offline["runtime"].settle()
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("client", ["regional", "edge"])
@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [({}, 401, "Unauthorized"), ({"x-api-key": "sk-guessed"}, 403, "Forbidden")],
)
def test_a_request_without_a_known_key_is_refused(offline, client, headers, status, error):
    answer = offline[client].post("/v1/inference", json={"prompt": PROMPT}, headers=headers)

    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_the_local_api_runs_a_request_as_its_keys_user_whatever_the_body_says(offline, alices):
    record = offline["regional"].get(
        f"/v1/decisions/{alices['request_id']}", headers=as_user("alice")
    )

    assert record.status_code == 200, record.text
    assert alices["user_id"] == record.json()["user_id"] == "alice"


def test_the_edge_gateway_runs_a_request_as_its_keys_user_whatever_the_body_says(offline):
    answer = offline["edge"].post(
        "/v1/inference", json={"prompt": PROMPT, "user_id": "mallory"}, headers=as_user("bob")
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["user_id"] == "bob"
    mine = offline["edge"].get(
        f"/v1/decisions/{answer.json()['request_id']}", headers=as_user("bob")
    )
    theirs = offline["edge"].get(
        f"/v1/decisions/{answer.json()['request_id']}", headers=as_user("alice")
    )
    missing = offline["edge"].get("/v1/decisions/no-such-request", headers=as_user("alice"))
    assert mine.status_code == 200
    assert theirs.status_code == missing.status_code == 404
    assert _without_request_id(theirs.json()) == _without_request_id(missing.json())


def test_the_chat_route_runs_as_the_keys_user_not_the_bodys_user(offline):
    answer = offline["regional"].post(
        "/v1/chat/completions",
        json={
            "model": "auto",
            "messages": [{"role": "user", "content": PROMPT}],
            "user": "mallory",
        },
        headers=as_user("bob"),
    )

    assert answer.status_code == 200, answer.text
    offline["runtime"].settle()
    rid = answer.json()["mecroute"]["request_id"]
    record = offline["regional"].get(f"/v1/decisions/{rid}", headers=as_user("bob"))
    assert record.json()["user_id"] == "bob"


def test_another_callers_decision_answers_as_a_missing_one(offline, alices):
    theirs = offline["regional"].get(
        f"/v1/decisions/{alices['request_id']}", headers=as_user("bob")
    )
    missing = offline["regional"].get("/v1/decisions/no-such-request", headers=as_user("bob"))

    assert theirs.status_code == missing.status_code == 404
    assert _without_request_id(theirs.json()) == _without_request_id(missing.json())


def test_feedback_only_from_the_decisions_owner(offline, alices):
    verdict = {"request_id": alices["request_id"], "rating": 4}

    # bob naming alice in the body changes nothing: he is bob.
    bobs = offline["regional"].post(
        "/v1/feedback", json={**verdict, "user_id": "alice"}, headers=as_user("bob")
    )
    missing = offline["regional"].post(
        "/v1/feedback", json={**verdict, "request_id": "no-such-request"}, headers=as_user("bob")
    )
    alices_own = offline["regional"].post(
        "/v1/feedback", json={**verdict, "user_id": "mallory"}, headers=as_user("alice")
    )

    assert bobs.status_code == missing.status_code == 404
    assert _without_request_id(bobs.json()) == _without_request_id(missing.json())
    assert alices_own.status_code == 202, alices_own.text


def test_usage_is_the_callers_own(offline, alices):
    usage = offline["regional"].get(
        "/v1/usage", params={"user_id": "bob"}, headers=as_user("alice")
    )

    assert usage.status_code == 200, usage.text
    assert usage.json()["user_id"] == "alice"


def test_a_caller_over_its_limit_at_the_gateway_gets_a_429_naming_it(offline):
    """carol spends her burst; her next request is refused with the limit and Retry-After, and
    dave, another caller at the same gateway, is not held back by her."""
    answers = [
        offline["edge"].get("/v1/decisions/no-such-request", headers=as_user("carol"))
        for _ in range(CALLER_BURST + 1)
    ]
    daves = offline["edge"].get("/v1/decisions/no-such-request", headers=as_user("dave"))

    assert [a.status_code for a in answers] == [404] * CALLER_BURST + [429]
    refused = answers[-1]
    assert refused.json()["error"] == "TooManyRequests"
    assert f"{CALLER_RATE_PER_S:g} requests/s (burst {CALLER_BURST})" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert daves.status_code == 404


def test_the_limit_holds_on_inference_and_chat_too(offline):
    """With erin's bucket spent, the pipeline routes refuse her before anything runs."""
    for _ in range(CALLER_BURST):
        offline["edge"].get("/v1/decisions/no-such-request", headers=as_user("erin"))

    inference = offline["edge"].post(
        "/v1/inference", json={"prompt": PROMPT}, headers=as_user("erin")
    )
    chat = offline["edge"].post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": PROMPT}]},
        headers=as_user("erin"),
    )

    assert inference.status_code == chat.status_code == 429
    assert int(inference.headers["retry-after"]) == int(chat.headers["retry-after"]) >= 1
    assert chat.json()["error"]["code"] == "TooManyRequests"


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


def test_a_changed_key_file_is_read_again(tmp_path: Path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"keys": []}))
    keys = FileApiKeys(keys_file)
    assert keys.read() == {}

    item = {"key_sha256": key_hash("sk-new"), "user_id": "carol"}
    keys_file.write_text(json.dumps({"keys": [item]}))

    assert keys.read() == {key_hash("sk-new"): "carol"}
