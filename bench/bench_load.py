"""Load test of the whole offline platform: `mecroute serve` on loopback, closed-loop clients.

    .venv/bin/python bench/bench_load.py [--concurrency 32] [--duration 60]   (or `make bench`)

Starts `mecroute serve` (moto executing the real ASL, the six handlers in-process, three MEC
node processes) and keeps `--concurrency` kept-alive clients posting inference requests for
`--duration` seconds: a mix of prompts (most new, some repeated, so some answers come from the
response cache), privacy modes and SLAs, all valid. Then it reads every answered request's
decision record back through GET /v1/decisions/{id}.

Prints throughput, latency percentiles and the answers by status. A request is lost if it
got no HTTP answer or left no decision record; any lost request makes the run exit 1.
Everything shares this machine's CPUs: the figures are the offline runtime's, not AWS's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from suite.timing import percentile

from mecroute.local.fleet import free_port

PROMPTS = [
    "What is the capital of France?",
    "Summarise: the meeting moved to Tuesday at noon, bring the Q3 figures.",
    "Classify the sentiment: the delivery was late but the support was great.",
    "Translate 'good morning, how are you?' into Spanish.",
    "Write a haiku about edge computing.",
    "Explain step by step why the sum of two odd numbers is even.",
]
REQUEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Outcome:
    started: float
    latency_ms: float
    status: int | None  # None: no HTTP answer at all
    request_id: str | None
    error: str | None = None


def request_body(rng: random.Random) -> dict[str, Any]:
    prompt = rng.choice(PROMPTS)
    if rng.random() < 0.7:  # most prompts are new; the rest can come from the response cache
        prompt = f"{prompt} (#{uuid.uuid4().hex[:8]})"
    body: dict[str, Any] = {
        "prompt": prompt,
        "privacy": rng.choice(["none", "none", "regional", "strict"]),
        "user_id": f"user-{rng.randrange(50)}",
    }
    if rng.random() < 0.3:
        body["sla"] = {"max_latency_ms": rng.choice([200, 500, 3000])}
    return body


class Client:
    """One kept-alive connection, reopened after an error."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            return response.status, json.loads(response.read())
        except Exception:
            self.connection.close()
            self.connection = self._connect()
            raise


def load(port: int, concurrency: int, duration_s: float) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + duration_s

    def client_loop(index: int) -> None:
        rng = random.Random(index)  # a reproducible workload mix per client
        client = Client(port)
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                status, body = client.call("POST", "/v1/inference", request_body(rng))
                outcome = Outcome(sent, (time.perf_counter() - sent) * 1000, status,
                                  body.get("request_id"))  # fmt: skip
            except Exception as error:
                outcome = Outcome(sent, (time.perf_counter() - sent) * 1000, None, None,
                                  f"{type(error).__name__}: {error}")  # fmt: skip
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.perf_counter() - started


def unrecorded(port: int, request_ids: list[str]) -> list[str]:
    """The answered requests without a decision record."""

    def missing(batch: list[str]) -> list[str]:
        client = Client(port)
        return [rid for rid in batch if client.call("GET", f"/v1/decisions/{rid}")[0] != 200]

    batches = [request_ids[i::8] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        return [rid for found in pool.map(missing, batches) for rid in found]


def spread(latencies: list[float]) -> str:
    p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
    return f"p50 {p50:.0f} ms   p95 {p95:.0f} ms   p99 {p99:.0f} ms"


def start_server(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "mecroute.local.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    if f"127.0.0.1:{port}" not in first:
        process.kill()
        raise RuntimeError(f"mecroute serve did not start: {first!r}")
    return process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    args = parser.parse_args(argv)

    port = free_port()
    print(f"starting mecroute serve on 127.0.0.1:{port} ...", flush=True)
    server = start_server(port)
    try:
        warm = Client(port)
        for _ in range(3):  # first requests load handlers and models: not part of the figures
            warm.call("POST", "/v1/inference", {"prompt": f"warm up {uuid.uuid4()}"})
        print(f"load: {args.concurrency} clients for {args.duration:g} s", flush=True)
        outcomes, elapsed_s = load(port, args.concurrency, args.duration)
        answered = [o for o in outcomes if o.status is not None]
        without_answer = [o for o in outcomes if o.status is None]
        recorded_ids = [o.request_id for o in answered if o.request_id]
        no_id = len(answered) - len(recorded_ids)
        print(f"checking {len(recorded_ids)} decision records ...", flush=True)
        missing = unrecorded(port, recorded_ids)
    finally:
        server.terminate()
        server.wait(timeout=60)

    latencies = [o.latency_ms for o in answered]
    ok = [o.latency_ms for o in answered if o.status == 200]
    statuses = Counter(o.status for o in answered)
    lost = len(without_answer) + no_id + len(missing)
    cpus = os.cpu_count()
    print(f"\nmecroute serve on loopback, {platform.python_version()}, {cpus} CPUs shared "
          f"by clients, moto, handlers and 3 MEC nodes")  # fmt: skip
    print(f"requests          {len(outcomes)} in {elapsed_s:.1f} s, concurrency {args.concurrency}")
    print(f"throughput        {len(answered) / elapsed_s:.1f} requests/s answered")
    print(f"latency (all)     {spread(latencies)}   max {max(latencies, default=0.0):.0f} ms")
    print(f"latency (200)     {spread(ok)}")
    print("answers           " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"lost              {lost} (no answer {len(without_answer)}, no request id {no_id}, "
          f"no decision record {len(missing)})")  # fmt: skip
    for outcome in without_answer[:5]:
        print(f"  no answer: {outcome.error}")
    for request_id in missing[:5]:
        print(f"  no decision record: {request_id}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
