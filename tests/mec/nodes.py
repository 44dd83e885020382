"""Helpers for the MEC node tests: node launcher, HTTP calls, bounded waits."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.node_keys import (
    KEYS_ENV,
    NodeAccess,
    NodeKeyring,
    NodeKeySecrets,
    NodeNetworks,
    secrets_manager_key,
)
from mecroute.domain.node_auth import Scope, scope_for, signed_headers
from mecroute.domain.registry import ModelSpec
from mecroute.local.fleet import LOOPBACK_NETWORK, NodeProcess, start_nodes, write_site_keys
from mecroute.local.names import Names
from mecroute.mec.profiles import PROFILES, SiteProfile

DEADLINE_S = 20.0


@dataclass(frozen=True)
class Aws:
    endpoint_url: str
    names: Names
    specs: dict[str, ModelSpec]
    env: dict[str, str]


@dataclass
class SiteKeys:
    """Keys per site and scope in files (the lone-node form, local/fleet.py), and which site
    each started node's endpoint belongs to, so `call` can sign as the agents do."""

    directory: Path
    sites: list[str] = field(default_factory=list)

    def add(self, site: str) -> None:
        if site not in self.sites:
            self.sites.append(site)

    def env(self) -> dict[str, str]:
        return write_site_keys(self.sites, self.directory)

    def secrets(self) -> NodeKeySecrets:
        return NodeKeySecrets.model_validate_json(self.env()[KEYS_ENV])

    def key(self, site: str, scope: Scope) -> bytes:
        return secrets_manager_key(self.secrets().of(scope)[site])

    def access(self) -> NodeAccess:
        return NodeAccess(NodeKeyring(self.secrets()), NodeNetworks.parse(LOOPBACK_NETWORK))


# Endpoint -> (site, keys) of every node the tests started: what `call` signs with.
_SIGNERS: dict[str, tuple[str, SiteKeys]] = {}


@dataclass
class Fleet:
    """Starts nodes for one test and stops whatever is still running afterwards."""

    env: dict[str, str]
    keys: SiteKeys
    started: list[NodeProcess] = field(default_factory=list)

    def client(self) -> HttpMecNodes:
        """The agents' client, holding every started site's keys."""
        return HttpMecNodes(access=self.keys.access())

    def start(
        self,
        site: str = "metro-5g",
        time_scale: float = 1.0,
        heartbeat_s: float = 0.2,
        extra_arguments: tuple[str, ...] = (),
        **overrides: Any,
    ) -> NodeProcess:
        profile: SiteProfile = dataclasses.replace(PROFILES[site], **overrides)
        self.keys.add(profile.node_id)
        env = {**self.env, **self.keys.env()}
        (node,) = start_nodes((profile,), env, time_scale, heartbeat_s, extra_arguments)
        self.started.append(node)
        _SIGNERS[node.endpoint] = (profile.node_id, self.keys)
        return node


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    timeout_s: float = 30,
    scope: Scope | None = None,
    headers: dict[str, str] | None = None,
    node_id: str = "",
) -> Reply:
    """A request to a started node, signed with its site's key for the route's scope (or the
    `scope` given); `headers` replace the signature (an unsigned or forged request). A node
    of an offline runtime is named by `node_id` and signed with the runtime's keys."""
    data = json.dumps(body).encode() if body is not None else None
    parts = urllib.parse.urlsplit(url)
    if headers is None:
        scope = scope or scope_for(method, parts.path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        signer = _SIGNERS.get(f"{parts.scheme}://{parts.netloc}")
        if signer is None:  # a node of an offline runtime: its keys are in the environment
            headers = NodeAccess.from_env().headers(node_id, url, method, data or b"", scope)
        else:
            site, keys = signer
            key = keys.key(site, scope)
            headers = signed_headers(key, site, scope, method, path, data or b"", time.time())
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Reply(response.status, _headers(response.headers), json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, _headers(error.headers), json.loads(error.read()))


def _headers(message: Any) -> dict[str, str]:
    """Header names are case-insensitive: keyed here as Title-Case (`Retry-After`)."""
    return {name.title(): value for name, value in message.items()}


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll until `condition` holds; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def in_background(work: Callable[[], Reply]) -> tuple[threading.Thread, list[Reply]]:
    replies: list[Reply] = []
    thread = threading.Thread(target=lambda: replies.append(work()), daemon=True)
    thread.start()
    return thread, replies


def tokens_for_hold(spec: ModelSpec, hold_ms: float, speed_factor: float = 1.0) -> int:
    """Output tokens that make a node hold a slot for about `hold_ms` at time scale 1."""
    return max(1, round(hold_ms / spec.latency_ms * 100 * speed_factor))
