"""Edge gateway benchmark (issue 13): routing overhead, throughput at concurrency 32 with nothing
lost, and the regional path against the gateway for the same prompts, each beside its budget.

    .venv/bin/python bench/bench_gateway.py [--requests 1500] [--overhead 400] [--regional 20]

Offline: moto, MEC nodes at time scale 0 (the inference itself takes no emulated time), one
gateway per site in this process; the load client is a separate process (32 threads).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import urllib3

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.agents import execute
from mecroute.local.api import serve
from mecroute.local.gateways import start_gateways
from mecroute.local.runtime import OfflineRuntime

PROMPTS = [
    "What is the capital of France?",
    "Translate 'good morning' into German.",
    "Classify the sentiment: the service was slow but friendly.",
    "Summarise: the meeting moved to Tuesday at noon because the room was booked.",
    "Write a haiku about the sea.",
    "Prove that the square root of two is irrational.",
]
BUDGETS = {"p50_ms": 2.0, "p99_ms": 10.0, "throughput_rps": 300.0, "ratio": 10.0}

# The load client, in its own process: 32 threads over kept-alive connections (urllib3 sets
# TCP_NODELAY: a client with Nagle on waits out the server's delayed ACK, ~40 ms a request).
CLIENT = r"""
import json, sys, threading, urllib3
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
                             json={"prompt": prompts[i % len(prompts)]}, timeout=60)
            ok = r.status == 200
            results.append((ok, r.json().get("request_id") if ok else r.status))
        except Exception as error:
            results.append((False, repr(error)))
import time
started = time.perf_counter()
threads = [threading.Thread(target=work) for _ in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"elapsed_s": time.perf_counter() - started, "results": results}))
"""


class ExecutionTimer:
    """Times the execute agent (the inference itself) per request id, inside the gateway."""

    def __init__(self) -> None:
        self.by_request: dict[str, float] = {}
        self._real = execute.execute

    def install(self) -> None:
        def timed(context: Any, *args: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._real(context, *args)
            finally:
                self.by_request[context.request_id] = (time.perf_counter() - started) * 1000

        execute.execute = timed  # type: ignore[assignment]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


POOL = urllib3.PoolManager(retries=False)


def post(url: str, prompt: str) -> tuple[float, int, dict[str, Any]]:
    started = time.perf_counter()
    answer = POOL.request("POST", f"{url}/v1/inference", json={"prompt": prompt}, timeout=120)
    return (time.perf_counter() - started) * 1000, answer.status, answer.json()


def overhead(url: str, timer: ExecutionTimer, count: int) -> list[float]:
    """Per request: the caller's wall time minus the inference's own time."""
    figures = []
    for i in range(count):
        wall_ms, status, body = post(url, PROMPTS[i % len(PROMPTS)])
        if status == 200:
            figures.append(wall_ms - timer.by_request.get(body["request_id"], 0.0))
    return figures


def median_ms(url: str, count: int) -> float:
    times = []
    for i in range(count):
        wall_ms, status, body = post(url, PROMPTS[i % len(PROMPTS)])
        assert status == 200, body
        times.append(wall_ms)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1500, help="requests in the load run")
    parser.add_argument("--overhead", type=int, default=400, help="sequential requests timed")
    parser.add_argument("--regional", type=int, default=20, help="prompts through each path")
    args = parser.parse_args()
    timer = ExecutionTimer()
    timer.install()
    with OfflineRuntime(time_scale=0) as runtime:
        gateways = start_gateways(runtime, Path(tempfile.mkdtemp(prefix="bench-gateway-")))
        site = sorted(gateways)[0]
        gateway, served = gateways[site]
        api = serve(runtime, 0, {s: g[1].url for s, g in gateways.items()}).start()
        try:
            median_ms(served.url, 30)  # warm: models loaded, connections open
            figures = overhead(served.url, timer, args.overhead)
            edge_median = median_ms(served.url, args.regional)
            median_ms(api.url, 3)
            regional_median = median_ms(api.url, args.regional)
            load = subprocess.run(  # noqa: S603 - our own script
                [sys.executable, "-c", CLIENT, served.url, str(args.requests), "32",
                 json.dumps(PROMPTS)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            run = json.loads(load.stdout)
            answered = [rid for ok, rid in run["results"] if ok]
            errors = len(run["results"]) - len(answered)
            deadline = time.monotonic() + 120
            while gateway.queue.depth() and time.monotonic() < deadline:
                time.sleep(0.2)
            decisions = DynamoDecisionLog(runtime.names.decisions_table)
            lost = sum(decisions.get(rid) is None for rid in answered)
        finally:
            api.stop()
            for g, s in gateways.values():
                s.stop()
                g.stop()
    p50, p99 = percentile(figures, 0.5), percentile(figures, 0.99)
    throughput = len(answered) / run["elapsed_s"]
    ratio = regional_median / edge_median
    rows = [
        ("gateway routing overhead p50", f"{p50:.2f} ms", f"<= {BUDGETS['p50_ms']:g} ms",
         p50 <= BUDGETS["p50_ms"]),
        ("gateway routing overhead p99", f"{p99:.2f} ms", f"<= {BUDGETS['p99_ms']:g} ms",
         p99 <= BUDGETS["p99_ms"]),
        (f"throughput at concurrency 32 ({len(run['results'])} requests)",
         f"{throughput:.0f} req/s, {errors} errors, {lost} lost",
         f">= {BUDGETS['throughput_rps']:g} req/s, 0 errors, 0 lost",
         throughput >= BUDGETS["throughput_rps"] and errors == 0 and lost == 0),
        (f"regional / gateway median ({args.regional} prompts)",
         f"{regional_median:.1f} / {edge_median:.1f} ms = {ratio:.1f}x",
         f">= {BUDGETS['ratio']:g}x", ratio >= BUDGETS["ratio"]),
    ]  # fmt: skip
    for name, figure, budget, met in rows:
        print(f"{name:<52} {figure:<40} budget {budget:<34} {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
