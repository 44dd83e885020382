"""mecroute.domain.identity: one rule binds a request to the caller its front door verified."""

from __future__ import annotations

import pytest

from mecroute.agents.context import parse_request
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.identity import (
    Caller,
    principal_arn,
    principal_user_id,
    proxy_event_user_id,
    with_caller,
)

BODY = {"prompt": "Hi", "user_id": "mallory"}


def test_a_bare_body_or_an_unverified_caller_keeps_the_bodys_user_id():
    """No front door verified anyone (an operator's own execution, a site without keys)."""
    assert parse_request(BODY).user_id == "mallory"
    assert parse_request(with_caller(BODY, None)).user_id == "mallory"
    assert parse_request(with_caller(BODY, Caller())).user_id == "mallory"
    assert parse_request(
        {"inference": BODY, "caller": {"api_key_id": "", "user_arn": ""}}
    ).user_id == ("mallory")


@pytest.mark.parametrize(
    ("caller", "user_id"),
    [
        (Caller(user_id="alice"), "alice"),
        (Caller(api_key_id="a1b2c3d4e5"), "key-a1b2c3d4e5"),
        (Caller(user_arn="arn:aws:iam::123456789012:user/alice"),
         principal_user_id("arn:aws:iam::123456789012:user/alice")),
    ],
)  # fmt: skip
def test_a_verified_caller_is_the_user_whatever_the_body_says(caller: Caller, user_id: str):
    assert parse_request(with_caller(BODY, caller)).user_id == user_id


def test_an_assumed_roles_session_name_is_not_part_of_its_identity():
    role = "arn:aws:sts::123456789012:assumed-role/app/"
    assert principal_arn(role + "session-a") == "arn:aws:sts::123456789012:assumed-role/app"
    assert principal_user_id(role + "session-a") == principal_user_id(role + "session-b")
    assert (
        principal_arn("arn:aws:iam::123456789012:user/a/b") == "arn:aws:iam::123456789012:user/a/b"
    )


def test_a_malformed_caller_is_refused_naming_the_field():
    with pytest.raises(InvalidRequest) as refused:
        parse_request({"inference": BODY, "caller": {"api_key_id": 'x"; drop'}})

    assert [p["field"] for p in refused.value.problems] == ["api_key_id"]


def test_a_proxy_events_caller_prefers_the_authorizer_then_the_key_then_the_principal():
    arn = "arn:aws:iam::123456789012:user/alice"
    assert proxy_event_user_id(None) is None
    assert proxy_event_user_id({"identity": {"sourceIp": "1.2.3.4", "apiKeyId": None}}) is None
    assert proxy_event_user_id({"identity": {"userArn": arn}}) == principal_user_id(arn)
    assert proxy_event_user_id({"identity": {"userArn": arn, "apiKeyId": "k1"}}) == "key-k1"
    assert (
        proxy_event_user_id({"identity": {"apiKeyId": "k1"}, "authorizer": {"principalId": "bo"}})
        == "bo"
    )
