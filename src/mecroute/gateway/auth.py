"""Caller authentication at the site, without a call to the region: an API key (header
`x-api-key` or `Authorization: Bearer`) whose SHA-256 is in the snapshot names the user."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from mecroute.adapters.web import HttpProblem


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def authenticate(headers: Mapping[str, str], known: Mapping[str, str]) -> str | None:
    """The caller's user id; None when the site takes anonymous callers (no keys known)."""
    if not known:
        return None
    presented = headers.get("x-api-key") or _bearer(headers.get("authorization", ""))
    if not presented:
        raise HttpProblem(401, "Unauthorized", "send an API key (x-api-key)")
    user_id = known.get(key_hash(presented))  # a lookup by hash: the key itself is never compared
    if user_id is None:
        raise HttpProblem(403, "Forbidden", "unknown API key")
    return user_id


def _bearer(value: str) -> str:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
