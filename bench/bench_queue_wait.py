"""Queue-wait prediction against one MEC node under load: predicted vs observed slot waits.

    .venv/bin/python bench/bench_queue_wait.py [--requests 400] [--utilisation 0.9]

One node (metro profile: 4 slots, queue of 16, emulated compute at time scale 1) gets
open-loop Poisson arrivals of a mix of prompts: most short, one in five of 16,000 characters
(the issue's long prompt). Just before each request the client probes the node's /health, as
the resource agent does, and predicts that request's wait for a slot with
`estimates.queue_wait_ms` twice: from the node's measured service time (what the router uses
now) and from the request's own predicted compute (what it used before). The node answers
with the wait the request really had (`queued_ms`). Prints p50/p95 of observed and of both
predictions, and each prediction's median absolute error. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass

import urllib3
from bench_node import NODE_ID, infer_key, start_node
from suite.timing import percentile

from mecroute.domain.estimates import compute_time_ms, estimate_tokens, queue_wait_ms
from mecroute.domain.node_auth import signed_headers
from mecroute.mec.profiles import PROFILES
from mecroute.mec.zoo import build_zoo, default_zoo_dir

MODEL = "edge-small-v1"
SHORT = "What is the capital of France, and why did it become the capital?"
LONG = ("Summarise the following notes on edge computing for a phone app. " * 250)[:16_000]
LONG_SHARE = 0.2
OUTPUT_TOKENS = 64


@dataclass(frozen=True)
class Sample:
    observed_ms: float
    measured_ms: float  # predicted from the node's measured service time
    own_ms: float  # predicted from this request's own compute (the earlier router)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--utilisation", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    zoo_dir = default_zoo_dir()
    specs = {spec.model_id: spec for spec, _ in build_zoo(zoo_dir)}
    reference_ms = specs[MODEL].latency_ms
    profile = PROFILES["metro-5g"]
    node = start_node(zoo_dir, [MODEL], time_scale=1.0)
    pool = urllib3.PoolManager(maxsize=64)
    base = f"http://127.0.0.1:{node.port}"
    key = infer_key()

    def signed(method: str, path: str, body: bytes = b"") -> urllib3.BaseHTTPResponse:
        """A call signed with the site's infer key, as the resource and execute agents sign."""
        headers = signed_headers(key, NODE_ID, "infer", method, path, body, time.time())
        if body:
            headers["Content-Type"] = "application/json"
        return pool.request(method, base + path, body=body or None, headers=headers, timeout=120)

    def own_compute_ms(prompt: str) -> float:
        tokens = estimate_tokens(prompt) + OUTPUT_TOKENS
        return compute_time_ms(reference_ms, tokens, profile.speed_factor)

    mean_service_ms = (1 - LONG_SHARE) * own_compute_ms(SHORT) + LONG_SHARE * own_compute_ms(LONG)
    rate_per_s = args.utilisation * profile.slots / (mean_service_ms / 1000)
    print(
        f"node {profile.node_id}: {profile.slots} slots, queue {profile.queue_limit}; {MODEL}; "
        f"mean service {mean_service_ms:.0f} ms; {rate_per_s:.1f} req/s "
        f"(utilisation {args.utilisation}); {args.requests} requests"
    )
    rng = random.Random(args.seed)
    samples: list[Sample] = []
    refused = 0
    lock = threading.Lock()

    def one(prompt: str) -> None:
        nonlocal refused
        health = json.loads(signed("GET", "/health").data)
        own = own_compute_ms(prompt)
        free, queued, slots = health["free_slots"], health["queue_depth"], health["slots"]
        measured = queue_wait_ms(free, queued, slots, health.get("service_ms"), own)
        earlier = queue_wait_ms(free, queued, slots, None, own)
        body = {
            "model_id": MODEL,
            "prompt": prompt,
            "output_tokens": OUTPUT_TOKENS,
            "emulate_network": False,
        }
        answer = signed("POST", "/infer", json.dumps(body).encode())
        with lock:
            if answer.status != 200:
                refused += 1
                return
            samples.append(Sample(json.loads(answer.data)["queued_ms"], measured, earlier))

    try:
        threads = []
        for _ in range(args.requests):
            prompt = LONG if rng.random() < LONG_SHARE else SHORT
            thread = threading.Thread(target=one, args=(prompt,))
            thread.start()
            threads.append(thread)
            time.sleep(rng.expovariate(rate_per_s))
        for thread in threads:
            thread.join()
    finally:
        node.stop()

    observed = [s.observed_ms for s in samples]
    print(f"answered {len(samples)}, refused (queue full) {refused}; waits in ms")
    print(f"{'':34} {'p50':>8} {'p95':>8} {'median |error|':>15}")
    print(f"{'observed (node queued_ms)':34} {_p(observed, 0.5)} {_p(observed, 0.95)}")
    for name, predicted in (
        ("predicted, measured service time", [s.measured_ms for s in samples]),
        ("predicted, own compute (before)", [s.own_ms for s in samples]),
    ):
        errors = [abs(p - o) for p, o in zip(predicted, observed, strict=True)]
        print(f"{name:34} {_p(predicted, 0.5)} {_p(predicted, 0.95)} {_p(errors, 0.5):>15}")


def _p(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction):8.1f}"


if __name__ == "__main__":
    main()
