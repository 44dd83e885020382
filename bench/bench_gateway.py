"""Edge gateway benchmark (issue 13): routing overhead, throughput at concurrency 32 with nothing
lost, and the regional path against the gateway for the same prompts, each beside its budget.

    .venv/bin/python bench/bench_gateway.py [--requests 1500] [--overhead 400] [--regional 20]

The world is deployed's shape: the gateway under test is its own process (`mecroute gateway`, as
on Fargate); the region (moto: tables, stream, bucket) and the regional API live in this process,
the MEC nodes in theirs (time scale 0: the inference itself takes no emulated time), the load
client in another. Routing overhead is the caller's wall time minus the inference's own time,
which the gateway reports per answer (`Server-Timing: execute;dur=...`), with the gateway pinned
to one core (every thread of it and of its record shipper process); throughput lets it use both.
CPU per request counts the shipper process too. Every prompt is sent once (a phase and a number
are appended), so every request is routed and run on a node rather than answered by the site's
response cache. The cloud tier is Bedrock's stand-in, the simulator's Converse service in a
process of its own (mecroute.local.cloud_service), neither pinned nor counted as the gateway's:
Bedrock answers from AWS. The gateway is charged its side of each call (the bedrock-runtime
client: serialising, signing, parsing); the simulator's own CPU is printed beside it.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import urllib3
from suite.table import at_least, at_most, plain
from suite.timing import percentile, say

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.local.api import serve
from mecroute.local.gateways import GatewayProcess, sites_of
from mecroute.local.runtime import OfflineRuntime

PROMPTS = [
    "What is the capital of France?",
    "Translate 'good morning' into German.",
    "Classify the sentiment: the service was slow but friendly.",
    "Summarise: the meeting moved to Tuesday at noon because the room was booked.",
    "Write a haiku about the sea.",
    "Prove that the square root of two is irrational.",
]
CONCURRENCY = 32
EXECUTE = re.compile(r"execute;dur=([0-9.]+)")

# The load client, in its own process: 32 threads over kept-alive connections (urllib3 sets
# TCP_NODELAY: a client with Nagle on waits out the server's delayed ACK, ~40 ms a request).
CLIENT = r"""
import json, sys, threading, time, urllib3
url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompts = json.loads(sys.argv[4])
lock = threading.Lock(); next_index = [0]; results = []
pool = urllib3.PoolManager(maxsize=concurrency, retries=False)
def work():
    while True:
        with lock:
            i = next_index[0]; next_index[0] += 1
        if i >= total:
            return
        try:
            r = pool.request("POST", url + "/v1/inference",
                             json={"prompt": f"{prompts[i % len(prompts)]} (load {i})"},
                             timeout=60)
            ok = r.status == 200
            results.append((ok, r.json().get("request_id") if ok else r.status))
        except Exception as error:
            results.append((False, repr(error)))
started = time.perf_counter()
threads = [threading.Thread(target=work) for _ in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"elapsed_s": time.perf_counter() - started, "results": results}))
"""
POOL = urllib3.PoolManager(retries=False)


def post(url: str, prompt: str) -> tuple[float, float, dict[str, Any]]:
    """The caller's wall time and the inference's own time (ms), and the answer."""
    started = time.perf_counter()
    answer = POOL.request("POST", f"{url}/v1/inference", json={"prompt": prompt}, timeout=120)
    wall_ms = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        raise RuntimeError(f"{url}: {answer.status} {answer.data[:300]!r}")
    executed = EXECUTE.search(answer.headers.get("server-timing", ""))
    return wall_ms, float(executed.group(1)) if executed else 0.0, answer.json()


def overheads(url: str, count: int) -> tuple[list[float], list[float], Counter[str]]:
    """Per request: the caller's wall time minus the inference's, and what the gateway recorded
    as its own routing overhead (`timing.routing_overhead_ms`); and the tiers that answered."""
    seen, recorded, tiers = [], [], Counter[str]()
    for i in range(count):
        wall_ms, execute_ms, body = post(url, unique(i, "overhead"))
        seen.append(wall_ms - execute_ms)
        recorded.append(body["timing"]["routing_overhead_ms"])
        tiers[body["result"]["tier"]] += 1
    return seen, recorded, tiers


def unique(i: int, phase: str) -> str:
    """The i-th prompt of a phase, never sent before: each request is routed and run on a
    node, not answered from the site's response cache (which would measure a lookup)."""
    return f"{PROMPTS[i % len(PROMPTS)]} ({phase} {i})"


def median_ms(url: str, count: int, phase: str) -> float:
    return statistics.median(post(url, unique(i, phase))[0] for i in range(count))


def load(url: str, requests: int) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our own script  # nosec B603
        [sys.executable, "-c", CLIENT, url, str(requests), str(CONCURRENCY), json.dumps(PROMPTS)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    run: dict[str, Any] = json.loads(done.stdout)
    return run


def drained(url: str, deadline_s: float = 120.0) -> bool:
    """Wait for the gateway's queue to empty (every record shipped to the region)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if POOL.request("GET", f"{url}/health").json()["queue_depth"] == 0:
            return True
        time.sleep(0.2)
    return False


def children(pid: int) -> list[int]:
    """The process's child processes (the gateway's record shipper), from /proc."""
    return [int(c) for task in Path(f"/proc/{pid}/task").glob("*/children")
            for c in task.read_text().split()]  # fmt: skip


def cpu_s(pid: int, with_children: bool = True) -> float:
    """CPU seconds the process (and its children) have used (user + system), from /proc; NaN
    where there is none. Per request, a figure that a busy shared machine stretches far less
    than wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_s(child) for child in children(pid) if with_children)


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of the process and its children on `cores` (affinity is per thread: the
    process's id alone names only its main thread)."""
    if hasattr(os, "sched_setaffinity"):
        for thread in Path(f"/proc/{pid}/task").glob("*"):
            os.sched_setaffinity(int(thread.name), cores)
        for child in children(pid):
            pin(child, cores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1500, help="requests in the load run")
    parser.add_argument("--overhead", type=int, default=400, help="sequential requests timed")
    parser.add_argument("--regional", type=int, default=20, help="prompts through each path")
    parser.add_argument("--gateway-src", type=Path, help="run the gateway from another checkout's "
                        "src/ (an A/B against a baseline in the same session)")  # fmt: skip
    args = parser.parse_args()
    extra_env = {"PYTHONPATH": str(args.gateway_src.resolve())} if args.gateway_src else {}
    every_core = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    with OfflineRuntime(time_scale=0) as runtime:
        site = sites_of(runtime)[0]
        queue_dir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
        gateway = GatewayProcess(site, queue_dir, extra_env=extra_env).start()
        assert gateway.process is not None
        api = serve(runtime, 0, {site: gateway.url}).start()
        try:
            median_ms(gateway.url, 30, "warm")  # warm: models loaded, connections open
            pid = gateway.process.pid
            pin(pid, {max(every_core)} if every_core else set())
            cloud_pid = gateway.cloud.process.pid if gateway.cloud and gateway.cloud.process else 0
            before, cloud_before = cpu_s(pid), cpu_s(cloud_pid)
            seen, recorded, tiers = overheads(gateway.url, args.overhead)
            cpu_sequential_ms = (cpu_s(pid) - before) * 1000 / args.overhead
            cloud_ms = (cpu_s(cloud_pid) - cloud_before) * 1000 / max(1, tiers["cloud"])
            pin(pid, every_core)
            edge_median = median_ms(gateway.url, args.regional, "edge")
            median_ms(api.url, 3, "warm")
            regional_median = median_ms(api.url, args.regional, "regional")
            before, before_own = cpu_s(pid), cpu_s(pid, with_children=False)
            run = load(gateway.url, args.requests)
            answered = [rid for ok, rid in run["results"] if ok]
            errors = len(run["results"]) - len(answered)
            shipped = drained(gateway.url)
            cpu_load_ms = (cpu_s(pid) - before) * 1000 / args.requests
            own_load_ms = (cpu_s(pid, with_children=False) - before_own) * 1000 / args.requests
            decisions = DynamoDecisionLog(runtime.names.decisions_table)
            lost = sum(decisions.get(rid) is None for rid in answered)
        finally:
            api.stop()
            gateway.stop()
    say(table(args, seen, recorded, run, errors, lost, shipped, edge_median, regional_median))
    say(f"gateway CPU per request: {cpu_sequential_ms:.2f} ms one at a time, {cpu_load_ms:.2f} ms "
        f"at concurrency {CONCURRENCY} (shipping included; the request process's own "
        f"{own_load_ms:.2f} ms)")  # fmt: skip
    answered_by = ", ".join(f"{tier} {n}" for tier, n in sorted(tiers.items()))
    say(
        f"tiers that answered the {args.overhead} timed requests: {answered_by}; the cloud "
        f"simulator's own process (not the gateway's): {cloud_ms:.2f} ms CPU a cloud answer"
    )
    return 0


def table(
    args: argparse.Namespace,
    seen: list[float],
    recorded: list[float],
    run: dict[str, Any],
    errors: int,
    lost: int,
    shipped: bool,
    edge_median: float,
    regional_median: float,
) -> str:
    p50, p99 = percentile(seen, 0.5), percentile(seen, 0.99)
    rate = (len(run["results"]) - errors) / run["elapsed_s"]
    ratio = regional_median / edge_median
    nothing_lost = errors == 0 and lost == 0 and shipped
    rows = [
        at_most("Gateway routing overhead p50 (one core)",
                f"{p50:.2f} ms ({len(seen)} requests; recorded by the gateway "
                f"p50 {percentile(recorded, 0.5):.2f} ms)", p50, 2.0, "≤ 2 ms"),
        at_most("Gateway routing overhead p99 (one core)", f"{p99:.2f} ms", p99, 10.0, "≤ 10 ms"),
        at_least(f"Gateway throughput, concurrency {CONCURRENCY} (2 cores)",
                 f"{rate:.0f} req/s ({len(run['results'])} requests, {errors} errors, "
                 f"{lost} records lost{'' if shipped else ', queue not drained'})",
                 rate if nothing_lost else 0.0, 300.0, "≥ 300 req/s, 0 errors, 0 lost"),
        at_least(f"Regional / gateway median ({args.regional} prompts)",
                 f"{regional_median:.1f} / {edge_median:.1f} ms = {ratio:.0f}x",
                 ratio, 10.0, "≥ 10x"),
    ]  # fmt: skip
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return plain(rows) + f"\n(load average {load_average:.1f} on {os.cpu_count()} CPUs)"


if __name__ == "__main__":
    sys.exit(main())
