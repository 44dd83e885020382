"""The node signature on its own: what it covers, the replay window, scopes, sites, networks."""

from __future__ import annotations

import pytest

from mecroute.adapters.node_keys import NodeKeySecrets, NodeNetworks
from mecroute.domain.node_auth import (
    REPLAY_WINDOW_S,
    AuthRefused,
    NodeVerifier,
    scope_for,
    signed_headers,
    site_of,
)

KEYS = {"infer": b"i" * 32, "control": b"c" * 32}
NOW = 1_800_000_000.0
BODY = b'{"model_id": "edge-small-v1", "prompt": "hi"}'


def verifier() -> NodeVerifier:
    return NodeVerifier("mec-metro-1", KEYS)  # type: ignore[arg-type]


def signed(**change: object) -> dict[str, str]:
    args = {
        "key": KEYS["infer"],
        "site": "mec-metro-1",
        "scope": "infer",
        "method": "POST",
        "path": "/infer",
        "body": BODY,
        "now": NOW,
    } | change
    return signed_headers(**args)  # type: ignore[arg-type]


def refusal(headers: dict[str, str], method: str = "POST", path: str = "/infer",
            body: bytes = BODY, now: float = NOW) -> AuthRefused:  # fmt: skip
    with pytest.raises(AuthRefused) as refused:
        verifier().verify(method, path, headers, body, now)
    return refused.value


def test_a_signed_request_verifies_once() -> None:
    node, headers = verifier(), signed()

    assert node.verify("POST", "/infer", headers, BODY, NOW + 1) == "infer"
    with pytest.raises(AuthRefused, match="replayed"):
        node.verify("POST", "/infer", headers, BODY, NOW + 2)


@pytest.mark.parametrize(
    ("what", "method", "path", "body"),
    [
        ("body", "POST", "/infer", BODY + b" "),
        ("path", "POST", "/models/edge-small-v1/load", BODY),
        ("method", "PUT", "/infer", BODY),
    ],
)
def test_the_signature_covers_method_path_and_body(
    what: str, method: str, path: str, body: bytes
) -> None:
    refused = refusal(signed(), method, path, body)

    assert (refused.status, refused.error) == (401, "Unauthenticated"), what


def test_a_signature_outside_the_window_is_refused() -> None:
    assert "window" in refusal(signed(), now=NOW + REPLAY_WINDOW_S + 1).message
    assert "window" in refusal(signed(), now=NOW - REPLAY_WINDOW_S - 1).message


def test_a_key_of_another_site_is_refused() -> None:
    refused = refusal(signed(site="mec-venue-1"))

    assert refused.status == 401
    assert "mec-venue-1" in refused.message


def test_the_scope_decides_the_routes() -> None:
    load = "/models/edge-small-v1/load"
    control = signed(key=KEYS["control"], scope="control", path=load)
    infer_for_load = signed(path=load)

    assert verifier().verify("POST", load, control, BODY, NOW) == "control"
    refused = refusal(infer_for_load, path=load)
    assert (refused.status, refused.error) == (403, "Forbidden")
    assert scope_for("DELETE", "/models/edge-small-v1") == "control"
    assert scope_for("GET", "/health") == scope_for("POST", "/v1/chat/completions") == "infer"


def test_a_node_without_keys_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="no keys"):
        NodeVerifier("mec-metro-1", {})


def test_a_task_belongs_to_the_longest_site_it_extends() -> None:
    sites = {"mec-metro-1", "mec-metro-10", "mec-metro"}

    assert site_of("mec-metro-1-ab12cd34", sites) == "mec-metro-1"
    assert site_of("mec-metro-10", sites) == "mec-metro-10"
    assert site_of("mec-metro-2", sites) == "mec-metro"  # a node that is not signs nothing
    assert site_of("mec-metro1", sites) is None  # no dash after the site
    assert site_of("other", sites) is None


def test_node_networks_admit_cidrs_and_dns_suffixes_only() -> None:
    networks = NodeNetworks.parse("10.0.0.0/16, .mecroute-dev.internal")

    assert networks.admits("10.0.3.7")
    assert networks.admits("mec-metro-1.mecroute-dev.internal")
    assert not networks.admits("10.1.0.1")
    assert not networks.admits("169.254.169.254")
    assert not networks.admits("evil.example.com")
    assert not NodeNetworks().admits("127.0.0.1")
    with pytest.raises(ValueError, match="neither a CIDR"):
        NodeNetworks.parse("example.com")


def test_key_secrets_name_the_field_at_fault() -> None:
    with pytest.raises(Exception, match="admin"):
        NodeKeySecrets.model_validate_json('{"admin": {}}')
