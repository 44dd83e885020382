"""Helpers for the MEC node tests: node launcher, HTTP calls, bounded waits."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mecroute.domain.registry import ModelSpec
from mecroute.local.fleet import NodeProcess, start_nodes
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
class Fleet:
    """Starts nodes for one test and stops whatever is still running afterwards."""

    env: dict[str, str]
    started: list[NodeProcess] = field(default_factory=list)

    def start(
        self,
        site: str = "metro-5g",
        time_scale: float = 1.0,
        heartbeat_s: float = 0.2,
        extra_arguments: tuple[str, ...] = (),
        **overrides: Any,
    ) -> NodeProcess:
        profile: SiteProfile = dataclasses.replace(PROFILES[site], **overrides)
        (node,) = start_nodes((profile,), self.env, time_scale, heartbeat_s, extra_arguments)
        self.started.append(node)
        return node


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def call(url: str, method: str = "GET", body: Any = None, timeout_s: float = 30) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
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
