"""The `mecroute` command: one request end to end, the local API, one MEC node, the zoo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mecroute.evaluation import commands as evaluation
from mecroute.gateway import main as gateway_main
from mecroute.local import registry_cli
from mecroute.local.cli_errors import check_port_free, explain
from mecroute.local.model_servers import model_server_entry, register_model_servers
from mecroute.local.stream_consumer import StreamConsumer
from mecroute.mec import node as mec_node

if TYPE_CHECKING:
    from mecroute.local.runtime import OfflineRuntime, Run

# What `invoke` and `serve` start before the first request, said before the wait.
STARTING = (
    "starting the offline platform: moto (the AWS APIs: DynamoDB, S3, Kinesis, Step Functions "
    "running the real state machine), 3 MEC node processes and the six agents in-process"
)


def _version() -> str:
    try:
        return version("mecroute")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _dispatch(args)
    except Exception as error:
        explained = explain(error, getattr(args, "port", None))
        if explained is None:
            raise
        print(explained, file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mecroute", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mecroute {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    invoke = commands.add_parser("invoke", help="run one request through the offline pipeline")
    invoke.add_argument("prompt", help="the prompt to route and answer")
    invoke.add_argument(
        "--privacy",
        choices=["none", "regional", "strict"],
        default="none",
        help="strict: never leaves device or MEC; regional: stays in the device's region",
    )
    invoke.add_argument("--max-latency-ms", type=int, help="latency SLA, end to end")
    invoke.add_argument("--min-accuracy", type=float, help="least expected accuracy, 0 to 1")
    invoke.add_argument("--json", action="store_true", help="print one JSON object")
    invoke.add_argument("--verbose", action="store_true", help="show moto's and the agents' logs")

    serve = commands.add_parser("serve", help="serve the local API on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    serve.add_argument("--verbose", action="store_true", help="show moto's and the agents' logs")
    serve.add_argument(
        "--model-server",
        action="append",
        default=[],
        type=model_server_entry,
        metavar="NODE_ID=URL",
        help="add your own OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI) as a MEC node; "
        "repeatable; it serves the registry's model ids (docs/model-servers.md)",
    )
    serve.add_argument(
        "--api-keys",
        type=Path,
        default=os.environ.get("API_KEYS_FILE") or None,
        metavar="FILE",
        help='callers\' keys, {"keys": [{"key_sha256": ..., "user_id": ...}]}: the local API and '
        "the edge gateways then answer only a known key, and each request runs as its user "
        "(env API_KEYS_FILE; without: anonymous callers, docs/security.md)",
    )

    node = commands.add_parser(
        "node", help="run one MEC node on its own (docs/mec-node.md)", description=mec_node.__doc__
    )
    mec_node.add_arguments(node)

    gateway = commands.add_parser(
        "gateway", help="run one MEC site's edge gateway", description=gateway_main.__doc__
    )
    gateway_main.add_arguments(gateway)

    zoo = commands.add_parser("build-zoo", help="build the ONNX model zoo and its registry entries")
    zoo.add_argument("--out", type=Path, required=True, help="directory, laid out like the bucket")

    evaluation.add_commands(commands)
    registry_cli.add_commands(commands)

    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("eval-router", "simulate"):
        return evaluation.run(args)
    if args.command == "registry":
        return registry_cli.run(args)
    if args.command == "invoke":
        return _invoke(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "build-zoo":
        return _build_zoo(args.out)
    if args.command == "gateway":
        return gateway_main.run(args)
    return mec_node.run(args)


def _build_zoo(out: Path) -> int:
    from mecroute.mec.zoo import build_zoo

    heading = f"{'model':<20} {'tiers':<11} {'size MB':>8} {'ref ms':>7}"
    print(f"{heading}  measured onnxruntime p50  sha256")
    for spec, _ in build_zoo(out):
        measured = ", ".join(f"{tier} {ms:.3f} ms" for tier, ms in spec.measured_latency_ms.items())
        print(
            f"{spec.model_id:<20} {','.join(spec.tiers):<11} {spec.size_mb:>8.3f} "
            f"{spec.latency_ms:>7.0f}  {measured:<24}  {spec.sha256[:12]}"
        )
    print(f"artifacts and registry.json in {out}")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    request: dict[str, Any] = {"prompt": args.prompt, "privacy": args.privacy}
    sla = {"max_latency_ms": args.max_latency_ms, "min_accuracy": args.min_accuracy}
    if any(value is not None for value in sla.values()):
        request["sla"] = {key: value for key, value in sla.items() if value is not None}
    with _started(args.verbose) as runtime:
        _say("sending the request through the pipeline ...")
        run = runtime.run(request)
    if args.json:
        print(json.dumps(_as_json(run), indent=2))
    else:
        print(_as_text(run))
    return 0 if run.status == "SUCCEEDED" else 1


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _started(verbose: bool) -> Iterator[OfflineRuntime]:
    """The offline runtime, started with a word on what is starting and, on a terminal, a clock
    while it does; stopped on the way out."""
    from mecroute.local.runtime import SERVE_HANDLER_PROCESSES, OfflineRuntime

    _say(STARTING + " (about 20 s; longer on a busy machine) ...")
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(1.0):
            print(
                f"\r  ... {time.monotonic() - started:.0f} s", end="", file=sys.stderr, flush=True
            )
        print("\r", end="", file=sys.stderr, flush=True)

    clock = threading.Thread(target=tick, daemon=True)
    if sys.stderr.isatty():
        clock.start()
    try:
        runtime = OfflineRuntime(verbose=verbose, handler_processes=SERVE_HANDLER_PROCESSES).start()
    finally:
        done.set()
        if clock.is_alive():
            clock.join()
    _say(f"ready in {time.monotonic() - started:.1f} s")
    try:
        yield runtime
    finally:
        runtime.stop()


def _tidy(value: Any) -> Any:
    """Floats to 10 significant digits: 0.4, not 0.4000000000000001; tiny costs keep theirs."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {key: _tidy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tidy(item) for item in value]
    return value


def _as_json(run: Run) -> dict[str, Any]:
    output = _tidy(run.output or run.record or {})
    return {
        "request_id": run.request_id,
        "status": run.status,
        "error": run.error,
        "cause": run.cause,
        "decision": output.get("decision"),
        "result": output.get("result"),
        "timing": output.get("timing"),
        "sla_met": output.get("sla_met"),
        "states": run.states,
        "pipeline_ms": round(run.duration_ms, 1),
    }


def _as_text(run: Run) -> str:
    lines = [
        f"request {run.request_id}: {run.status} in {run.duration_ms:.0f} ms (offline pipeline)"
    ]
    output = run.output or run.record or {}
    decision = output.get("decision")
    if decision and decision.get("primary"):
        primary = decision["primary"]
        where = f"{primary['tier']}/{primary['node_id']}" if primary["node_id"] else primary["tier"]
        lines.append(
            f"decision: {where} model {primary['model_id']} (score {primary['score']:.3g})"
        )
        lines.append("scores:   " + ", ".join(f"{k} {v:.3g}" for k, v in primary["scores"].items()))
        lines.append(f"reason:   {decision['reason']}")
        fallbacks = [
            f"{c['tier']}/{c['node_id'] or '-'}/{c['model_id']}" for c in decision["fallbacks"]
        ]
        lines.append(f"fallbacks: {', '.join(fallbacks) or 'none'}")
    result = output.get("result")
    if result:
        lines.append(
            f"result:   {result['output']} on {result['tier']} in {result['latency_ms']:.1f} ms, "
            f"${result['cost_usd']:.6f}, SLA {'met' if output.get('sla_met') else 'missed'}"
        )
    timing = output.get("timing")
    if timing:
        lines.append(
            f"timing:   {timing['end_to_end_ms']:.1f} ms end to end = routing overhead "
            f"{timing['routing_overhead_ms']:.1f} ms + execution {timing['execution_ms']:.1f} ms"
            + (" + failed attempts" if output.get("failures") else "")
        )
    for failure in output.get("failures", []):
        lines.append(f"fallback after {failure['candidate']}: {failure['error']}")
    if run.error:
        lines.append(f"error:    {run.error}: {run.cause}")
    lines.append("states:   " + " -> ".join(run.states))
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    from mecroute.gateway.auth import FileApiKeys
    from mecroute.local.api import serve
    from mecroute.local.gateways import start_gateways

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    check_port_free(args.port)
    keys = FileApiKeys(args.api_keys) if args.api_keys else None
    if keys is not None:
        keys.read()  # a bad file fails here, named, not on the first request
        os.environ["API_KEYS_FILE"] = str(args.api_keys)  # the gateways' settings read it
    with _started(args.verbose) as runtime:
        servers = register_model_servers(runtime.names.nodes_table, args.model_server)
        # The learning loop: the real aggregator consumes the outcome events (GET /v1/stats).
        learning = StreamConsumer.aggregator(runtime.names.metrics_stream).start()
        gateways = start_gateways(runtime, Path(tempfile.mkdtemp(prefix="mecroute-gateways-")))
        urls = {site: served.url for site, (_, served) in gateways.items()}
        server = serve(runtime, args.port, urls, keys).start()
        url = server.url
        nodes = ", ".join(
            [f"{n.profile.node_id}={n.endpoint}" for n in runtime.nodes]
            + [f"{record.node_id}={record.endpoint}" for record in servers]
        )
        print(f"mecroute local API listening on {url}", flush=True)
        print(f"MEC nodes: {nodes}", flush=True)
        print(
            f"moto (AWS APIs): {runtime.data_endpoint_url} (DynamoDB, S3, Kinesis, SQS, "
            f"Secrets Manager), {runtime.endpoint_url} (Step Functions)",
            flush=True,
        )
        print(f"edge gateways: {json.dumps(urls)} (GET {url}/v1/sites)", flush=True)
        print(
            f"try: curl -s -X POST {url}/v1/inference -H 'Content-Type: application/json' "
            """-d '{"prompt": "What is the capital of France?"}'"""
            + (" -H 'x-api-key: YOUR KEY'" if keys else ""),
            flush=True,
        )
        stop.wait()
        print("shutting down", file=sys.stderr, flush=True)
        server.stop()
        learning.stop()
        for gateway, served in gateways.values():
            served.stop()
            gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
