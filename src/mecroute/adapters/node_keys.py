"""Where the MEC node keys come from (AWS Secrets Manager, one secret per site and scope) and which
node endpoints a caller may reach; read from the environment by every caller and every node.

MEC_NODE_KEYS  JSON `{"infer": {"<site>": "<secret id>", ...}, "control": {...}}`: the secrets
               this role may read (an agent holds one scope; a node its own site's two);
               `file:/path` instead of a secret id for a lone node with no AWS.
MEC_NODE_NETWORKS  comma-separated CIDRs and DNS suffixes node endpoints must lie in
               (`10.0.0.0/16,.mecroute-dev.internal` deployed, `127.0.0.0/8` offline).
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from mecroute.domain.errors import TierUnavailable, problems_line
from mecroute.domain.node_auth import SCOPES, Scope, signed_headers, site_of

KEYS_ENV = "MEC_NODE_KEYS"
NETWORKS_ENV = "MEC_NODE_NETWORKS"
# A rotated secret reaches a warm caller within this long.
KEY_CACHE_S = 300.0


class NodeKeySecrets(BaseModel):
    """MEC_NODE_KEYS: secret ids by scope, then by site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    infer: dict[str, str] = {}
    control: dict[str, str] = {}

    def of(self, scope: Scope) -> dict[str, str]:
        return self.infer if scope == "infer" else self.control

    @classmethod
    def from_env(cls) -> NodeKeySecrets:
        raw = os.environ.get(KEYS_ENV, "")
        if not raw.strip():
            return cls()
        try:
            return cls.model_validate_json(raw)
        except ValidationError as error:
            raise ValueError(f"{KEYS_ENV}: {problems_line(error)}") from None


FILE_PREFIX = "file:"


def secrets_manager_key(secret_id: str) -> bytes:
    """The key a secret holds: its SecretString, 64 hex digits (32 random bytes). A lone node
    on a laptop, with no AWS at all, may name a file instead (`file:/path`, same content)."""
    if secret_id.startswith(FILE_PREFIX):
        return bytes.fromhex(Path(secret_id.removeprefix(FILE_PREFIX)).read_text().strip())
    from mecroute.adapters.aws import client

    value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return bytes.fromhex(str(value).strip())


@dataclass
class NodeKeyring:
    """Keys fetched once per secret (again after KEY_CACHE_S), shared by the process's threads."""

    secrets: NodeKeySecrets
    fetch: Callable[[str], bytes] = secrets_manager_key
    _cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, scope: Scope, site: str) -> bytes:
        secret_id = self.secrets.of(scope).get(site)
        if secret_id is None:
            raise LookupError(f"no {scope} key for site {site!r} ({KEYS_ENV})")
        with self._lock:
            cached = self._cache.get(secret_id)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        key = self.fetch(secret_id)
        with self._lock:
            self._cache[secret_id] = (time.monotonic() + KEY_CACHE_S, key)
        return key


@dataclass(frozen=True)
class NodeNetworks:
    """The addresses node endpoints may have: IP networks and DNS suffixes. Empty: none."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> NodeNetworks:
        networks, suffixes = [], []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry))
            except ValueError:
                if not entry.startswith("."):
                    raise ValueError(
                        f"{NETWORKS_ENV}: {entry!r} is neither a CIDR nor a .dns-suffix"
                    ) from None
                suffixes.append(entry.lower())
        return cls(tuple(networks), tuple(suffixes))

    @classmethod
    def from_env(cls) -> NodeNetworks:
        return cls.parse(os.environ.get(NETWORKS_ENV, ""))

    def admits(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host.lower().endswith(self.suffixes) if self.suffixes else False
        return any(address in network for network in self.networks)


@dataclass
class NodeAccess:
    """What a caller needs to reach a node: the endpoint check and the request signature."""

    keyring: NodeKeyring
    networks: NodeNetworks

    @classmethod
    def from_env(cls) -> NodeAccess:
        return cls(NodeKeyring(NodeKeySecrets.from_env()), NodeNetworks.from_env())

    def headers(
        self, node_id: str, url: str, method: str, body: bytes, scope: Scope, required: bool = True
    ) -> dict[str, str]:
        """Signature headers for one call, after checking the URL lies where nodes live. Not
        `required` (your own model server, which has its own auth): none without a site key."""
        parts = urlsplit(url)
        if not self.networks.admits(parts.hostname or ""):
            raise TierUnavailable(
                f"node {node_id}: endpoint host {parts.hostname!r} is outside the registered "
                f"node networks ({NETWORKS_ENV})"
            )
        sites = set(self.keyring.secrets.of(scope))
        site = site_of(node_id, sites)
        if site is None and not required:
            return {}
        if site is None:
            raise TierUnavailable(f"node {node_id}: this caller holds no {scope} key for its site")
        try:
            key = self.keyring.key(scope, site)
        except Exception as error:  # Secrets Manager unreachable or the secret malformed
            raise TierUnavailable(f"node {node_id}: {scope} key unavailable: {error}") from None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return signed_headers(key, site, scope, method, path, body, time.time())


def node_verifier_keys(
    site: str, secrets: NodeKeySecrets, fetch: Callable[[str], bytes] = secrets_manager_key
) -> dict[Scope, bytes]:
    """A node's own keys (both scopes) for NodeVerifier, fetched at start."""
    keys: dict[Scope, bytes] = {}
    for scope in SCOPES:
        secret_id = secrets.of(scope).get(site)
        if secret_id is not None:
            keys[scope] = fetch(secret_id)
    return keys
