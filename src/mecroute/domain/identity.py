"""Who the caller is: the identity its front door verified, never what the body says.

One rule on every path: the regional API (API Gateway's SigV4 principal or API key), the local
API and the edge gateway (a verified API key) hand the pipeline a `Caller`; the context agent
binds the request's `user_id` to it (`bind`). A body's own `user_id` (a chat body's `user`) is
ignored when a caller is known: it neither decides nor refuses anything, so an OpenAI client
that sends its end user's name in `user` keeps working. With no caller (a site or a local API
with no API keys, or an operator starting the execution directly) the body's value stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mecroute.domain.request import Identifier, InferenceRequest, StrictModel

# The pipeline input's request, wrapped with its caller: {"inference": body, "caller": {...}}
# (the chat envelope carries "caller" beside "chat_completion").
INFERENCE_ENVELOPE = "inference"
CALLER = "caller"
IAM_PREFIX = "iam-"
API_KEY_PREFIX = "key-"
# API Gateway's key ids are 10 letters and digits; `key-` and one of them is a valid user id.
API_KEY_ID_PATTERN = r"^[A-Za-z0-9]{1,60}$"
_HASH_HEX_DIGITS = 32  # 128 bits: no two principals of an account collide in practice


class Caller(StrictModel):
    """The identity a front door verified; empty strings (VTL's absent values) mean unset."""

    user_id: Identifier | None = Field(
        default=None, description="Already verified: the user an API key names (gateway, local)."
    )
    api_key_id: Annotated[str, StringConstraints(pattern=API_KEY_ID_PATTERN)] | None = Field(
        default=None, description="API Gateway's $context.identity.apiKeyId (not the key)."
    )
    user_arn: str | None = Field(
        default=None, max_length=2048, description="API Gateway's $context.identity.userArn."
    )

    def bound_user_id(self) -> str | None:
        """The user id requests of this caller run as; None when nothing was verified."""
        if self.user_id:
            return self.user_id
        if self.api_key_id:
            return API_KEY_PREFIX + self.api_key_id
        if self.user_arn:
            return principal_user_id(self.user_arn)
        return None


def proxy_event_user_id(request_context: Mapping[str, Any] | None) -> str | None:
    """The user id of an API Gateway REST proxy event's caller (the reads and feedback
    Lambdas): the authorizer's principal (the local API sets it for a verified key), else the
    API key's id, else the SigV4 principal; None when nothing was verified. API Gateway writes
    requestContext; no caller can."""
    context = request_context or {}
    identity = context.get("identity") or {}
    authorizer = context.get("authorizer") or {}
    fields = {
        "user_id": authorizer.get("principalId"),
        "api_key_id": identity.get("apiKeyId"),
        "user_arn": identity.get("userArn"),
    }
    caller = caller_of({CALLER: fields})
    return caller.bound_user_id() if caller else None


def principal_user_id(user_arn: str) -> str:
    """A SigV4 principal's user id: `iam-` and 32 hex digits of the SHA-256 of its ARN.

    An ARN may hold `/` and run past the 64 characters a user id allows, so it is hashed. An
    assumed role's session name is dropped first: the caller picks it at sts:AssumeRole, so it
    would let one role be any number of users; the role is the identity."""
    return IAM_PREFIX + _short_hash(principal_arn(user_arn))


def principal_arn(user_arn: str) -> str:
    """`arn:aws:sts::123:assumed-role/Role/session` -> `arn:aws:sts::123:assumed-role/Role`;
    any other ARN as it is."""
    prefix, separator, resource = user_arn.partition(":assumed-role/")
    if not separator:
        return user_arn
    return f"{prefix}{separator}{resource.split('/', 1)[0]}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_HEX_DIGITS]


def caller_field(caller: Caller | None) -> dict[str, Any]:
    """The `caller` entry of a pipeline envelope ({} when nothing was verified)."""
    return {CALLER: caller.model_dump(exclude_none=True) if caller else {}}


def with_caller(body: Any, caller: Caller | None) -> dict[str, Any]:
    """The pipeline input's request: the body wrapped with its caller, as the regional API's
    mapping template wraps it (the context agent unwraps it: mecroute.agents.context)."""
    return {INFERENCE_ENVELOPE: body, **caller_field(caller)}


def caller_of(envelope: dict[str, Any]) -> Caller | None:
    """The caller an envelope carries; None when it names nobody."""
    fields = envelope.get(CALLER)
    if not isinstance(fields, dict):
        return None
    given = {key: value for key, value in fields.items() if value not in ("", None)}
    caller = Caller.model_validate(given)
    return caller if caller.bound_user_id() is not None else None


def bind(request: InferenceRequest, caller: Caller | None) -> InferenceRequest:
    """The request running as its caller: the verified identity replaces the body's user_id."""
    user_id = caller.bound_user_id() if caller else None
    if user_id is None or user_id == request.user_id:
        return request
    return request.model_copy(update={"user_id": user_id})
