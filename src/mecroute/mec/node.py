"""The MEC node process: `mecroute node --port P --profile NAME`, locally and in the Fargate image.

Serves the node app (mec/node_app.py) under uvicorn and sends heartbeats. On SIGTERM the node
stops accepting connections, finishes every request it has accepted, writes a last heartbeat
and exits 0. See docs/mec-node.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from mecroute.adapters.ports import ArtifactStore, ModelRegistry
from mecroute.adapters.web import Served
from mecroute.domain.node_auth import NodeVerifier
from mecroute.mec.heartbeat import Heartbeats
from mecroute.mec.node_app import node_app
from mecroute.mec.profiles import PROFILES, SiteProfile, profile_named
from mecroute.mec.service import NodeService

# Addresses that name every interface (what a node was told to bind, not an endpoint).
ANY_IPV4 = "0.0.0.0"  # noqa: S104  # nosec B104
WILDCARD_HOSTS = ("", ANY_IPV4, "::")


# -- command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--profile",
        default=env("MEC_PROFILE", "metro-5g"),
        choices=sorted(PROFILES),
        help="site profile (env MEC_PROFILE): capacity, speed, network, memory budget",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("MEC_PORT", "9000")), help="port (env MEC_PORT)"
    )
    parser.add_argument("--host", default=env("MEC_HOST", "127.0.0.1"), help="address to bind")
    parser.add_argument(
        "--node-id",
        default=env("MEC_NODE_ID"),
        help="the site's node id (default: the profile's); on ECS each task adds its task id",
    )
    parser.add_argument(
        "--endpoint",
        default=env("MEC_NODE_ENDPOINT"),
        help="URL other components reach this node at (default: from ECS metadata or host:port)",
    )
    overrides = parser.add_argument_group(
        "profile overrides", "each also read from MEC_<NAME> (MEC_SLOTS, MEC_PRELOAD, ...)"
    )
    for flag, kind, variable, meaning in (
        ("--slots", int, "MEC_SLOTS", "requests served at once"),
        ("--queue-limit", int, "MEC_QUEUE_LIMIT", "requests that may wait"),
        ("--speed-factor", float, "MEC_SPEED_FACTOR", "compute speed relative to reference"),
        ("--site-rtt-ms", float, "MEC_SITE_RTT_MS", "extra round trip from the radio to the site"),
        ("--memory-budget-mb", float, "MEC_MEMORY_BUDGET_MB", "memory for loaded models"),
    ):
        overrides.add_argument(flag, type=kind, default=env(variable), help=meaning)
    overrides.add_argument(
        "--preload",
        default=env("MEC_PRELOAD"),
        help="comma-separated model ids to load at start ('' for none)",
    )
    sources = parser.add_argument_group("model artifacts")
    sources.add_argument(
        "--bucket", default=env("ARTIFACTS_BUCKET"), help="S3 bucket (env ARTIFACTS_BUCKET)"
    )
    sources.add_argument(
        "--models-dir",
        type=Path,
        help="a zoo directory from `mecroute build-zoo --out DIR`, instead of S3",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(env("MEC_TIME_SCALE", "1.0")),
        help="multiplies emulated waits (compute and network); 0 serves at raw onnxruntime speed",
    )
    parser.add_argument(
        "--heartbeat-s",
        type=float,
        default=float(env("MEC_HEARTBEAT_S", "5")),
        help="seconds between heartbeats to the NODES_TABLE DynamoDB table, when it is set",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mecroute node", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    ecs = _ecs_identity()
    site, profile = _profile(args, ecs)
    verifier = _verifier(site)
    artifacts, registry = _model_source(args)
    service = NodeService(profile, artifacts, registry, time_scale=args.time_scale)
    served = Served(node_app(service, verifier), args.host, args.port, fast=True)
    port = served.port
    endpoint = args.endpoint or _endpoint(args.host, port, ecs)
    failures = service.preload(profile.preload)
    for model_id, why in failures.items():
        print(f"{profile.node_id}: preload of {model_id} failed: {why}", file=sys.stderr)

    heartbeats = _heartbeats(service, endpoint, args.heartbeat_s)
    if heartbeats is not None:
        heartbeats.register()
        heartbeats.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    served.start()
    banner = {
        "listening": f"http://{args.host}:{port}",
        "endpoint": endpoint,
        "node_id": profile.node_id,
        "profile": profile.site,
        "loaded_models": service.models.ids(),
        "heartbeats": os.environ.get("NODES_TABLE") if heartbeats else None,
    }
    print(json.dumps(banner), flush=True)
    if sys.stdout.isatty():
        print(f"try: curl -s {endpoint}/health", file=sys.stderr, flush=True)

    stop.wait()
    service.draining = True
    if heartbeats is not None:
        heartbeats.beat_now()  # tell readers at once that this node takes no new work
    served.stop()  # no new connections; every accepted request is answered, then it returns
    if heartbeats is not None:
        heartbeats.stop()
    return 0


def _profile(args: argparse.Namespace, ecs: tuple[str, str] | None) -> tuple[str, SiteProfile]:
    """The site's id and this node's profile."""
    try:
        profile = profile_named(args.profile)  # MEC_PROFILE bypasses argparse's choices
    except ValueError as error:
        raise SystemExit(str(error)) from None
    # Each Fargate task is a node of its own (its own record, endpoint and loaded models),
    # named after its site; the site's keys sign for all of them.
    site = args.node_id or profile.node_id
    node_id = f"{site}-{ecs[1][:8]}" if ecs else site
    overrides: dict[str, Any] = {
        "node_id": node_id,
        "slots": args.slots,
        "queue_limit": args.queue_limit,
        "speed_factor": args.speed_factor,
        "site_rtt_ms": args.site_rtt_ms,
        "memory_budget_mb": args.memory_budget_mb,
    }
    if args.preload is not None:
        overrides["preload"] = tuple(m for m in args.preload.split(",") if m)
    return site, dataclasses.replace(
        profile, **{name: value for name, value in overrides.items() if value is not None}
    )


def _verifier(site: str) -> NodeVerifier:
    """The site's keys from Secrets Manager (MEC_NODE_KEYS): without one, no node starts."""
    from mecroute.adapters.node_keys import NodeKeySecrets, node_verifier_keys

    try:
        keys = node_verifier_keys(site, NodeKeySecrets.from_env())
    except Exception as error:
        raise SystemExit(f"node {site}: could not read its keys: {error}") from None
    if not keys:
        raise SystemExit(
            f"node {site}: MEC_NODE_KEYS names no key for this site; a node serves only "
            "requests signed with its site's keys (docs/security.md)"
        )
    return NodeVerifier(site, keys)


def _model_source(args: argparse.Namespace) -> tuple[ArtifactStore, ModelRegistry | None]:
    from mecroute.adapters.files import REGISTRY_FILE, DirectoryArtifactStore, DirectoryRegistry

    models_dir: Path | None = args.models_dir
    registry: ModelRegistry | None
    if models_dir is None and args.bucket:
        from mecroute.adapters.dynamodb import DynamoModelRegistry
        from mecroute.adapters.streams import S3ArtifactStore

        models_table = os.environ.get("MODELS_TABLE")
        registry = DynamoModelRegistry(models_table) if models_table else None
        return S3ArtifactStore(args.bucket), registry
    if models_dir is None:
        models_dir = _build_local_zoo()
    registry = DirectoryRegistry(models_dir) if (models_dir / REGISTRY_FILE).is_file() else None
    return DirectoryArtifactStore(models_dir), registry


def _build_local_zoo() -> Path:
    """No bucket and no --models-dir: build the zoo here, once, so a lone node still serves."""
    from mecroute.mec.zoo import build_zoo, default_zoo_dir

    zoo_dir = default_zoo_dir()
    try:
        build_zoo(zoo_dir)
    except ImportError as error:
        raise SystemExit(
            f"no --bucket (ARTIFACTS_BUCKET) and no --models-dir, and the zoo cannot be built "
            f"here ({error}); install the `local` extra or pass --models-dir"
        ) from None
    print(f"serving the zoo built in {zoo_dir} (no bucket given)", file=sys.stderr, flush=True)
    return zoo_dir


def _heartbeats(service: NodeService, endpoint: str, interval_s: float) -> Heartbeats | None:
    nodes_table = os.environ.get("NODES_TABLE")
    if not nodes_table:
        return None
    from mecroute.adapters.dynamodb import DynamoNodeDirectory

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "local"
    return Heartbeats(
        service,
        DynamoNodeDirectory(nodes_table),
        lambda now: service.record(endpoint, region, now),
        interval_s,
    )


def _endpoint(host: str, port: int, ecs: tuple[str, str] | None) -> str:
    if ecs:
        return f"http://{ecs[0]}:{port}"
    if host in WILDCARD_HOSTS:
        host = socket.gethostbyname(socket.gethostname())
    return f"http://{host}:{port}"


def _ecs_identity() -> tuple[str, str] | None:
    """(task IP, task id) from the ECS task metadata endpoint on Fargate; None elsewhere."""
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not uri or not uri.startswith("http://"):
        return None
    try:
        # The scheme is checked above: plain http, the ECS task metadata endpoint.
        with urllib.request.urlopen(uri, timeout=2) as response:  # noqa: S310  # nosec B310
            metadata = json.loads(response.read())
        address = metadata["Networks"][0]["IPv4Addresses"][0]
        task_arn = metadata["Labels"]["com.amazonaws.ecs.task-arn"]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return str(address), str(task_arn).rsplit("/", 1)[-1]


if __name__ == "__main__":
    sys.exit(main())
