"""How a MEC node knows who calls it: every request carries an HMAC-SHA256 signature over its
method, path, time, a nonce and its body's hash, made with one of the site's keys.

Each site has two keys (docs/security.md): `infer` (inference, health, the OpenAI routes) for
the agents and gateways that run requests, `control` (load and evict) for the cache agent
alone. A node refuses an unsigned, wrongly signed, stale or replayed request with 401 and a
request signed with the other scope's key with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Scope = Literal["infer", "control"]
SCOPES: tuple[Scope, ...] = ("infer", "control")
ALGORITHM = "MECROUTE-HMAC-SHA256"
KEY_HEADER = "x-mecroute-key"  # "<site>/<scope>": which key signed
DATE_HEADER = "x-mecroute-date"  # unix seconds when signed
NONCE_HEADER = "x-mecroute-nonce"  # 32 hex digits, used once
SIGNATURE_HEADER = "x-mecroute-signature"  # hex HMAC-SHA256 of the canonical request
# A signature older or newer than this is refused; nonces are remembered for twice as long,
# so a captured request cannot be sent again while its date would still pass.
REPLAY_WINDOW_S = 30
# Memory bound on remembered nonces (a node serves far fewer requests in a window).
MAX_REMEMBERED_NONCES = 200_000
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_CONTROL_PATH = re.compile(r"^/models/[^/]+(/load)?$")


def scope_for(method: str, path: str) -> Scope:
    """Loading and evicting models is the control plane's; everything else is inference."""
    if _CONTROL_PATH.match(path) and method in ("POST", "DELETE"):
        return "control"
    return "infer"


def site_of(node_id: str, sites: frozenset[str] | set[str]) -> str | None:
    """The site a node belongs to: its id, or the site id a task suffixed (`mec-metro-1-ab12cd34`
    for a task of site `mec-metro-1`); the longest site that matches."""
    matches = [site for site in sites if node_id == site or node_id.startswith(f"{site}-")]
    return max(matches, key=len) if matches else None


def _canonical(method: str, path: str, date: str, nonce: str, key_id: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((ALGORITHM, method.upper(), path, date, nonce, key_id, digest)).encode()


def signed_headers(
    key: bytes, site: str, scope: Scope, method: str, path: str, body: bytes, now: float
) -> dict[str, str]:
    """The headers that authenticate one request to a node of `site`."""
    key_id, date, nonce = f"{site}/{scope}", str(int(now)), secrets.token_hex(16)
    mac = hmac.new(key, _canonical(method, path, date, nonce, key_id, body), hashlib.sha256)
    return {
        KEY_HEADER: key_id,
        DATE_HEADER: date,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: mac.hexdigest(),
    }


@dataclass(frozen=True)
class AuthRefused(Exception):
    """401 (not authenticated) or 403 (authenticated, but not for this route)."""

    status: Literal[401, 403]
    error: Literal["Unauthenticated", "Forbidden"]
    message: str


def _unauthenticated(message: str) -> AuthRefused:
    return AuthRefused(401, "Unauthenticated", message)


class NodeVerifier:
    """A node's side: its site, its keys by scope, and the nonces it has seen."""

    def __init__(
        self, site: str, keys: Mapping[Scope, bytes], window_s: float = REPLAY_WINDOW_S
    ) -> None:
        if not keys:
            raise ValueError(f"node {site}: no keys to verify requests with")
        self.site, self.window_s = site, window_s
        self.keys: dict[str, bytes] = {str(scope): key for scope, key in keys.items()}
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> Scope:
        """The scope the request was signed for, or AuthRefused naming what is wrong."""
        missing = [h for h in (KEY_HEADER, DATE_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
                   if h not in headers]  # fmt: skip
        if missing:
            raise _unauthenticated(f"unsigned request: missing {', '.join(missing)}")
        key_id, date, nonce = headers[KEY_HEADER], headers[DATE_HEADER], headers[NONCE_HEADER]
        site, _, scope = key_id.rpartition("/")
        if site != self.site:
            raise _unauthenticated(f"{KEY_HEADER}: signed for site {site!r}, this is {self.site!r}")
        key = self.keys.get(scope)
        if key is None:
            raise _unauthenticated(f"{KEY_HEADER}: no {scope!r} key here (scopes: infer, control)")
        if not date.isascii() or not date.isdigit():
            raise _unauthenticated(f"{DATE_HEADER}: {date!r} is not unix seconds")
        skew = abs(now - int(date))
        if skew > self.window_s:
            raise _unauthenticated(
                f"{DATE_HEADER}: signed {skew:.0f} s from the node's clock "
                f"(window {self.window_s:g} s)"
            )
        if not _NONCE.match(nonce):
            raise _unauthenticated(f"{NONCE_HEADER}: 32 lowercase hex digits expected")
        expected = hmac.new(
            key, _canonical(method, path, date, nonce, key_id, body), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, headers[SIGNATURE_HEADER]):
            raise _unauthenticated(f"{SIGNATURE_HEADER}: does not match the request")
        self._forget_before(now)
        if nonce in self._seen:
            raise _unauthenticated(f"{NONCE_HEADER}: replayed request (nonce already used)")
        if len(self._seen) >= MAX_REMEMBERED_NONCES:
            raise _unauthenticated("too many signed requests in the replay window; retry")
        self._seen[nonce] = now + 2 * self.window_s
        needed = scope_for(method, path)
        if scope != needed:
            raise AuthRefused(
                403,
                "Forbidden",
                f"{method} {path} needs the {needed} key; this request is signed with the "
                f"{scope} key",
            )
        return needed

    def _forget_before(self, now: float) -> None:
        # Insertion order is expiry order: drop from the front while expired.
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[nonce]
