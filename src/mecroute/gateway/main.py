"""`mecroute gateway --site NAME --port P`: one MEC site's gateway as a process; on SIGTERM it
stops accepting, answers what it accepted, and ships every queued record it can."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from mecroute.adapters.web import Served
from mecroute.gateway.metrics import MetricsReporter
from mecroute.gateway.service import build_gateway


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--site", required=env("MEC_SITE") is None, default=env("MEC_SITE"),
                        help="the MEC site this gateway serves (env MEC_SITE)")  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=int(env("GATEWAY_PORT", "8090")), help="port (env GATEWAY_PORT)"
    )
    parser.add_argument("--host", default=env("GATEWAY_HOST", "127.0.0.1"), help="address to bind")


def run(args: argparse.Namespace) -> int:
    gateway = build_gateway(args.site).start(shipper_process=True)
    served = Served(gateway.app, args.host, args.port, fast=True).start()
    # On Fargate (GATEWAY_METRICS=cloudwatch) its alarms read these; offline nothing is sent.
    reporter = (
        MetricsReporter(args.site, gateway.keeper, gateway.queue).start()
        if os.environ.get("GATEWAY_METRICS") == "cloudwatch"
        else None
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"listening": served.url, "site": args.site}), flush=True)
    stop.wait()
    served.stop()
    if reporter is not None:
        reporter.stop()
    gateway.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mecroute gateway", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
