"""Local MEC node processes: one `mecroute node` per site profile on 127.0.0.1, stopped with
the runtime. The profiles themselves live in `mecroute.mec.profiles`, shared with the node."""

from __future__ import annotations

import json
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mecroute.adapters.node_keys import FILE_PREFIX, KEYS_ENV, NETWORKS_ENV, NodeKeySecrets
from mecroute.domain.node_auth import SCOPES
from mecroute.mec.profiles import DEFAULT_SITES, PROFILES, SiteProfile

__all__ = [
    "DEFAULT_SITES",
    "NodeProcess",
    "SiteProfile",
    "create_site_keys",
    "free_port",
    "node_arguments",
    "start_nodes",
    "write_site_keys",
]

# Profile fields a site may change relative to the named profile, and the node's flag for each.
_OVERRIDE_FLAGS = {
    "slots": "--slots",
    "queue_limit": "--queue-limit",
    "speed_factor": "--speed-factor",
    "site_rtt_ms": "--site-rtt-ms",
    "memory_budget_mb": "--memory-budget-mb",
}


# Offline every node listens on loopback: the only network a node endpoint may be in.
LOOPBACK_NETWORK = "127.0.0.0/8"


def create_site_keys(site_ids: list[str], prefix: str = "mecroute") -> dict[str, str]:
    """A fresh random key per site and scope in (moto's) Secrets Manager, as the stack creates
    them; returns the environment that tells callers and nodes where they are."""
    from mecroute.adapters.aws import client

    manager = client("secretsmanager")

    def store(site: str, scope: str) -> str:
        secret_id = f"{prefix}/mec-node/{site}/{scope}"
        manager.create_secret(Name=secret_id, SecretString=secrets.token_hex(32))
        return secret_id

    return _site_keys(site_ids, store)


def write_site_keys(site_ids: list[str], directory: Path) -> dict[str, str]:
    """The same, for lone nodes with no AWS (a laptop, the benchmarks): each key in a file of
    its own (mode 600) under `directory`, named `file:<path>` in the environment."""

    def store(site: str, scope: str) -> str:
        path = directory / f"{site}.{scope}.key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return f"{FILE_PREFIX}{path}"

    return _site_keys(site_ids, store)


def _site_keys(site_ids: list[str], store: Callable[[str, str], str]) -> dict[str, str]:
    names = {scope: {site: store(site, scope) for site in site_ids} for scope in SCOPES}
    keys = NodeKeySecrets.model_validate(names)
    return {KEYS_ENV: keys.model_dump_json(), NETWORKS_ENV: LOOPBACK_NETWORK}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class NodeProcess:
    profile: SiteProfile
    port: int
    process: subprocess.Popen[str]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (the node drains its accepted requests), then SIGKILL if it hangs."""
        end_process(self.process, signal.SIGTERM, timeout_s)


def end_process(process: subprocess.Popen[str], signum: int, timeout_s: float) -> int:
    """Send `signum`, wait up to `timeout_s`, SIGKILL if it hangs; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
    return int(process.returncode)


def node_arguments(profile: SiteProfile) -> list[str]:
    """`mecroute node` flags for `profile`: its name, plus whatever it changes from that name."""
    named = PROFILES.get(profile.site)
    if named is None or named.access != profile.access:
        raise ValueError(f"site {profile.site!r} must be a named profile: {sorted(PROFILES)}")
    arguments = ["--profile", profile.site, "--node-id", profile.node_id]
    for field, flag in _OVERRIDE_FLAGS.items():
        if getattr(profile, field) != getattr(named, field):
            arguments += [flag, str(getattr(profile, field))]
    if profile.preload != named.preload:
        arguments += ["--preload", ",".join(profile.preload)]
    return arguments


def start_nodes(
    sites: tuple[SiteProfile, ...],
    env: dict[str, str],
    time_scale: float,
    heartbeat_s: float,
    extra_arguments: tuple[str, ...] = (),
) -> list[NodeProcess]:
    """Start every node at once, then wait for each to load its models and listen."""
    started = []
    try:
        for profile in sites:
            port = free_port()
            command = [
                sys.executable, "-m", "mecroute.mec.node",
                "--port", str(port),
                *node_arguments(profile),
                "--time-scale", str(time_scale),
                "--heartbeat-s", str(heartbeat_s),
                *extra_arguments,
            ]  # fmt: skip
            process = subprocess.Popen(  # noqa: S603 - our own module  # nosec B603
                command, env=env, stdout=subprocess.PIPE, text=True
            )
            started.append(NodeProcess(profile, port, process))
        for node in started:
            wait_listening(node.process, f"MEC node {node.profile.node_id}")
    except BaseException:
        for node in started:
            node.stop()
        raise
    return started


def wait_listening(process: subprocess.Popen[str], name: str, timeout_s: float = 60.0) -> str:
    """A server process prints one JSON line naming where it listens once it serves; anything
    else means it did not start. Returns that address."""
    stdout = process.stdout
    assert stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        readable, _, _ = select.select([stdout], [], [], 0.1)
        if readable:
            line = stdout.readline()
            try:
                return str(json.loads(line)["listening"])
            except (ValueError, KeyError, TypeError):
                pass
            break
    raise RuntimeError(f"{name} did not start (see its stderr above)")
