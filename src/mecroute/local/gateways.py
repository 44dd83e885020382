"""`mecroute serve`'s edge gateways: one per MEC site of the offline runtime, reading the same
local tables and stream the regional path writes; in-process, or each as its own process
(`mecroute gateway`), as on Fargate, where the region is not in the gateway's process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mecroute.adapters.web import Served
from mecroute.gateway.service import Gateway, build_gateway
from mecroute.gateway.settings import GatewaySettings
from mecroute.local.cloud_service import CloudSimulatorProcess
from mecroute.local.fleet import end_process, free_port, wait_listening
from mecroute.local.runtime import OfflineRuntime

CLOUD_URL_ENV = "CLOUD_SIMULATOR_URL"


def start_gateways(runtime: OfflineRuntime, queue_dir: Path) -> dict[str, tuple[Gateway, Served]]:
    settings = GatewaySettings.from_env().model_copy(update={"queue_dir": queue_dir})
    started: dict[str, tuple[Gateway, Served]] = {}
    try:
        for site in sites_of(runtime):
            gateway = build_gateway(site, settings).start()
            started[site] = (gateway, Served(gateway.app, fast=True).start())
    except BaseException:
        for gateway, served in started.values():
            served.stop()
            gateway.stop()
        raise
    return started


def sites_of(runtime: OfflineRuntime) -> list[str]:
    return sorted({node.profile.site for node in runtime.nodes})


@dataclass
class GatewayProcess:
    """`mecroute gateway --site SITE` as a child process, on the runtime's environment (moto's
    endpoint, the table and stream names) with its record queue in `queue_dir`. Its cloud tier
    is the simulator's Converse service in a process of its own (not the gateway's child), as
    Bedrock is remote from a deployed gateway; CLOUD_SIMULATOR_URL in `extra_env` names another."""

    site: str
    queue_dir: Path
    port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    url: str = ""
    cloud: CloudSimulatorProcess | None = None

    def start(self) -> GatewayProcess:
        self.port = self.port or free_port()
        command = [sys.executable, "-m", "mecroute.gateway.main",
                   "--site", self.site, "--port", str(self.port)]  # fmt: skip
        env = {**os.environ, "QUEUE_DIR": str(self.queue_dir), "PYTHONUNBUFFERED": "1",
               **self.extra_env}  # fmt: skip
        try:
            if CLOUD_URL_ENV not in env:
                # On the runtime's environment: `extra_env` is the gateway's (another checkout's
                # PYTHONPATH in an A/B bench).
                self.cloud = CloudSimulatorProcess(dict(os.environ)).start()
                env[CLOUD_URL_ENV] = self.cloud.url
            self.process = subprocess.Popen(  # noqa: S603 - our own module  # nosec B603
                command, env=env, stdout=subprocess.PIPE, text=True
            )
            self.url = wait_listening(self.process, f"gateway {self.site}")
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM: it answers what it accepted and ships its queue, then exits."""
        return self._end(signal.SIGTERM, timeout_s)

    def kill(self) -> int:
        """SIGKILL: no goodbye; what its queue holds waits on disk for the next start."""
        return self._end(signal.SIGKILL, 30.0)

    def _end(self, signum: int, timeout_s: float) -> int:
        code = end_process(self.process, signum, timeout_s) if self.process is not None else -1
        if self.cloud is not None:  # nothing the gateway started outlives it
            self.cloud.stop()
        return code
