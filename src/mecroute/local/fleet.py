"""Local MEC node processes: one per site profile, on 127.0.0.1, stopped with the runtime."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from mecroute.domain.registry import NodeRecord


@dataclass(frozen=True)
class SiteProfile:
    node_id: str
    site: str
    slots: int
    queue_limit: int
    speed_factor: float
    site_rtt_ms: float
    memory_budget_mb: float
    preload: tuple[str, ...]


# Three sites with different capacity and distance from the radio.
DEFAULT_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("mec-metro-1", "metro-5g", 4, 16, 1.0, 2.0, 2048, ("edge-large-v1", "edge-small-v1")),
    SiteProfile("mec-suburb-1", "suburban-lte", 2, 8, 0.6, 8.0, 512, ("edge-small-v1",)),
    SiteProfile("mec-venue-1", "stadium-5g", 8, 32, 1.5, 1.0, 4096, ("edge-large-v1", "tinytext-device-v1")),
)


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

    def record(self, region: str, now: float) -> NodeRecord:
        p = self.profile
        return NodeRecord(
            node_id=p.node_id,
            site=p.site,
            endpoint=self.endpoint,
            region=region,
            slots=p.slots,
            queue_limit=p.queue_limit,
            speed_factor=p.speed_factor,
            site_rtt_ms=p.site_rtt_ms,
            memory_budget_mb=p.memory_budget_mb,
            hot_models=[],
            heartbeat_at=now,
        )

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nodes(
    sites: tuple[SiteProfile, ...], bucket: str, env: dict[str, str], time_scale: float
) -> list[NodeProcess]:
    started = []
    for profile in sites:
        port = free_port()
        command = [
            sys.executable, "-m", "mecroute.mec.node",
            "--port", str(port),
            "--bucket", bucket,
            "--slots", str(profile.slots),
            "--queue-limit", str(profile.queue_limit),
            "--speed-factor", str(profile.speed_factor),
            "--time-scale", str(time_scale),
        ]
        process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True
        )
        started.append(NodeProcess(profile, port, process))
    for node in started:
        _wait_listening(node)
    return started


def _wait_listening(node: NodeProcess, timeout_s: float = 30.0) -> None:
    assert node.process.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = node.process.stdout.readline()
    if not line or "listening" not in json.loads(line) or time.monotonic() > deadline:
        node.stop()
        raise RuntimeError(f"MEC node {node.profile.node_id} did not start")
