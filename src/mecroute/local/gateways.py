"""`mecroute serve`'s edge gateways: one per MEC site of the offline runtime, in-process, reading
the same local tables and stream the regional path writes."""

from __future__ import annotations

from pathlib import Path

from mecroute.adapters.web import Served
from mecroute.gateway.service import Gateway, build_gateway
from mecroute.gateway.settings import GatewaySettings
from mecroute.local.runtime import OfflineRuntime


def start_gateways(runtime: OfflineRuntime, queue_dir: Path) -> dict[str, tuple[Gateway, Served]]:
    settings = GatewaySettings.from_env().model_copy(update={"queue_dir": queue_dir})
    started: dict[str, tuple[Gateway, Served]] = {}
    try:
        for site in sorted({node.profile.site for node in runtime.nodes}):
            gateway = build_gateway(site, settings).start()
            started[site] = (gateway, Served(gateway.app).start())
    except BaseException:
        for gateway, served in started.values():
            served.stop()
            gateway.stop()
        raise
    return started
