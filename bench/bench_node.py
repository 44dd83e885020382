"""MEC node benchmark: serving overhead per model, and the load one node takes before queueing.

    .venv/bin/python bench/bench_node.py        (or `make bench`)

1. Per model, raw onnxruntime latency (in this process) against the same inference through
   a node's HTTP API (kept-alive connection). The serving overhead of each request is its
   round trip minus the onnxruntime time the node measured for it; budget: p50 under 1 ms.
2. Per model, closed-loop clients at rising concurrency against one node (4 slots): the
   requests/s it serves, the p50 round trip and the share of requests that waited for a slot.
   "Before queueing" is the best rate while the p50 stays within 2x an idle node's and under
   1% of requests waited for a slot: past it, requests queue (for a slot, or for the CPU).
   The clients share the machine's CPUs with the node, as they say in the output.
The node runs with --time-scale 0, so every figure is real compute, not emulated time.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import onnxruntime
from suite.timing import percentile

from mecroute.adapters.node_keys import KEYS_ENV, NodeKeySecrets, secrets_manager_key
from mecroute.adapters.onnx_engine import TIER_THREADS, OnnxModel
from mecroute.domain.estimates import compute_time_ms
from mecroute.domain.node_auth import signed_headers
from mecroute.local.fleet import NodeProcess, start_nodes, write_site_keys
from mecroute.mec.profiles import DEFAULT_SITES, PROFILES
from mecroute.mec.zoo import build_zoo, default_zoo_dir

PROMPT = "What is the capital of France, and why did it become the capital?"
WARMUP = 200
RUNS = 2000
CONCURRENCY = (1, 2, 4, 8, 16)
STEP_S = 1.5
OVERHEAD_BUDGET_MS = 1.0
# A request counts as queued when it waited this long for a slot.
QUEUED_MS = 1.0
# Queueing has begun once the median round trip is this many times an idle node's.
KNEE_LATENCY_RATIO = 2.0
NODE_ID = "bench-node"
# The node's keys, in files (a lone node with no AWS); the client signs with the infer key.
KEYS_DIR = Path(tempfile.mkdtemp(prefix="mecroute-bench-node-keys-"))


def infer_key() -> bytes:
    secrets = NodeKeySecrets.model_validate_json(write_site_keys([NODE_ID], KEYS_DIR)[KEYS_ENV])
    return secrets_manager_key(secrets.infer[NODE_ID])


class Client:
    """One kept-alive connection to the node, as a load balancer or the execute agent holds."""

    def __init__(self, port: int, key: bytes) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.key = key

    def infer(self, model_id: str) -> tuple[float, dict[str, float]]:
        body = json.dumps({"model_id": model_id, "prompt": PROMPT, "emulate_network": False})
        started = time.perf_counter()
        # Signing is part of every real call's cost, so it is inside the timed span.
        signature = signed_headers(
            self.key, NODE_ID, "infer", "POST", "/infer", body.encode(), time.time()
        )
        headers = {"Content-Type": "application/json", **signature}
        self.connection.request("POST", "/infer", body, headers)
        response = self.connection.getresponse()
        answer: dict[str, float] = json.loads(response.read())
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"node answered {response.status}: {answer}")
        return elapsed_ms, answer


def raw_latencies(model_id: str, artifact: bytes) -> list[float]:
    model = OnnxModel(model_id, artifact, TIER_THREADS["mec"])
    for _ in range(WARMUP):
        model.run(PROMPT)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        model.run(PROMPT)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def served_latencies(port: int, model_id: str) -> tuple[list[float], list[float]]:
    client = Client(port, infer_key())
    for _ in range(WARMUP):
        client.infer(model_id)
    round_trips, overheads = [], []
    for _ in range(RUNS):
        elapsed_ms, answer = client.infer(model_id)
        round_trips.append(elapsed_ms)
        overheads.append(elapsed_ms - answer["onnx_ms"])
    return round_trips, overheads


def closed_loop(port: int, model_id: str, clients: int) -> tuple[float, float, float]:
    """(requests/s, p50 round trip ms, share queued) with `clients` back-to-back callers."""
    stop = threading.Event()
    results: list[list[tuple[float, float]]] = [[] for _ in range(clients)]

    def caller(mine: list[tuple[float, float]]) -> None:
        client = Client(port, infer_key())
        while not stop.is_set():
            elapsed_ms, answer = client.infer(model_id)
            mine.append((elapsed_ms, answer["queued_ms"]))

    threads = [threading.Thread(target=caller, args=(mine,)) for mine in results]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(STEP_S)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed_s = time.perf_counter() - started
    served = [item for mine in results for item in mine]
    queued = sum(1 for _, queued_ms in served if queued_ms >= QUEUED_MS)
    p50 = statistics.median(elapsed_ms for elapsed_ms, _ in served)
    return len(served) / elapsed_s, p50, queued / len(served)


def start_node(zoo_dir: Path, model_ids: list[str], time_scale: float = 0.0) -> NodeProcess:
    # Every model loaded at once, with no AWS: the node reads the zoo directory.
    profile = dataclasses.replace(
        PROFILES["metro-5g"], node_id=NODE_ID, memory_budget_mb=1024, preload=tuple(model_ids)
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ("NODES_TABLE", "ARTIFACTS_BUCKET")
    } | write_site_keys([NODE_ID], KEYS_DIR)
    arguments = ("--models-dir", str(zoo_dir))
    (node,) = start_nodes(
        (profile,), env, time_scale=time_scale, heartbeat_s=5, extra_arguments=arguments
    )
    return node


def main() -> None:
    zoo_dir = default_zoo_dir()
    built = build_zoo(zoo_dir)
    model_ids = [spec.model_id for spec, _ in built]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}; "
        f"{RUNS} requests per figure after {WARMUP} warm-up; times in ms"
    )
    node = start_node(zoo_dir, model_ids)
    try:
        print("\n1. serving overhead: one inference, raw onnxruntime vs through the node's HTTP")
        print(
            f"{'model':<20} {'raw p50':>8} {'raw p99':>8} {'http p50':>9} {'http p99':>9}"
            f" {'overhead p50':>13} {'overhead p99':>13}  budget p50 < {OVERHEAD_BUDGET_MS:g} ms"
        )
        for spec, path in built:
            raw = raw_latencies(spec.model_id, path.read_bytes())
            served, overhead = served_latencies(node.port, spec.model_id)
            p50, p99 = percentile(overhead, 0.5), percentile(overhead, 0.99)
            verdict = "met" if p50 < OVERHEAD_BUDGET_MS else "MISSED"
            print(
                f"{spec.model_id:<20} {percentile(raw, 0.5):>8.3f} {percentile(raw, 0.99):>8.3f}"
                f" {percentile(served, 0.5):>9.3f} {percentile(served, 0.99):>9.3f}"
                f" {p50:>13.3f} {p99:>13.3f}  {verdict}"
            )

        print(
            f"\n2. load on one node ({node.profile.slots} slots, raw compute): closed-loop clients"
            f" c on the same {os.cpu_count()} CPUs; q = waited >= {QUEUED_MS:g} ms for a slot"
        )
        for spec, _ in built:
            steps = [(c, *closed_loop(node.port, spec.model_id, c)) for c in CONCURRENCY]
            cells = "  ".join(
                f"c={c}: {rate:6.0f}/s p50 {p50:5.2f} ms q {queued:4.0%}"
                for c, rate, p50, queued in steps
            )
            idle_p50 = steps[0][2]
            unqueued = [
                rate
                for _, rate, p50, queued in steps
                if queued < 0.01 and p50 <= KNEE_LATENCY_RATIO * idle_p50
            ]
            before = f"{max(unqueued):.0f} req/s" if unqueued else "queues at once"
            print(f"{spec.model_id:<20} before queueing: {before:>10}   {cells}")
    finally:
        node.stop()

    print("\n3. emulated capacity of each site (slots / emulated compute), 100-token requests:")
    for profile in DEFAULT_SITES:
        rates = []
        for spec, _ in built:
            if "mec" in spec.tiers:
                compute_ms = compute_time_ms(spec.latency_ms, 100, profile.speed_factor)
                rates.append(f"{spec.model_id} {profile.slots * 1000 / compute_ms:.0f}/s")
        site = f"{profile.site:<14} {profile.slots} slots x{profile.speed_factor}"
        print(f"{site}: {', '.join(rates)}")


if __name__ == "__main__":
    main()
