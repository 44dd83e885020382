"""The black-box campaign (issue 17) as one command: hostile requests against the offline
runtime's public routes, then load while its parts fail; prints what it counted, asserts nothing.

    .venv/bin/python bench/bench_campaign.py [--hostile 1200] [--seconds 40] [--seed 17]

The world is `mecroute serve`'s: moto and the pipeline with the real handlers in this process,
three real MEC node processes, the local regional API, and one site's edge gateway as its own
process (`mecroute gateway`).

1. Hostile requests (`suite/hostile.py`), each sent to the regional API and to the gateway, on
   the inference route and the OpenAI chat route: malformed JSON, wrong types and values,
   missing and extra fields, prompts at and past their bounds, odd unicode, wrong content types
   and methods, bad credentials, huge SLAs, bad identifiers and idempotency keys, unknown
   routes. Counted by status; a 5xx, or an error that names neither the field it broke nor
   the problem, is counted as such.
2. Load with faults: callers on both paths while a MEC node is killed, another is frozen and
   thawed (slow, then hung), and the monitor's recording fails for a while (its events go to
   the record dead-letter queue, which is redriven afterwards). Then every answered request is
   checked for exactly one decision record and one outcome event on the stream.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from bench_gateway import drained
from suite.hostile import CAMPAIGN_KEY, CHAT, Case, campaign
from suite.timing import say

from mecroute.adapters.aws import client
from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.queues import SqsQueue
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.gateway.auth import FileApiKeys, key_hash
from mecroute.local.api import serve
from mecroute.local.fleet import NodeProcess
from mecroute.local.gateways import GatewayProcess, sites_of
from mecroute.local.runtime import OfflineRuntime
from mecroute.local.stream_consumer import StreamConsumer
from mecroute.ops.redrive import redrive_queue

POOL = urllib3.PoolManager(retries=False, maxsize=4)
PROMPTS = [
    "What is the capital of France?",
    "Summarise: the meeting moved to Tuesday at noon because the room was booked.",
    "Translate 'good morning' into German.",
    "Prove that the square root of two is irrational.",
]
# The load client, in its own process: threads posting until the time is up, each answer's
# status and request id (or what went wrong) printed as JSON at the end. A 10 s SLA: on a busy
# shared machine moto's control plane alone can take seconds, and what is counted here is
# what is lost or counted twice, not latency.
CLIENT = r"""
import json, sys, threading, time, urllib3
url, seconds = sys.argv[1], float(sys.argv[2])
concurrency, pause = int(sys.argv[3]), float(sys.argv[4])
prompts, key = json.loads(sys.argv[5]), sys.argv[6]
pool = urllib3.PoolManager(maxsize=concurrency, retries=False)
lock = threading.Lock(); counter = [0]; results = []
stop = time.monotonic() + seconds
def work():
    while time.monotonic() < stop:
        with lock:
            i = counter[0]; counter[0] += 1
        prompt = f"{prompts[i % len(prompts)]} (request {i})"
        try:
            body = {"prompt": prompt, "sla": {"max_latency_ms": 10000}}
            r = pool.request("POST", url + "/v1/inference", json=body,
                             headers={"x-api-key": key}, timeout=60)
            try:
                rid = r.json().get("request_id")
            except ValueError:
                rid = None
            results.append([r.status, rid])
        except Exception as error:
            results.append([0, type(error).__name__])
        time.sleep(pause)
threads = [threading.Thread(target=work) for _ in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(results))
"""


# -- 1. hostile requests -----------------------------------------------------------------------


def send(base: str, case: Case) -> tuple[int, bytes]:
    try:
        answer = POOL.request(
            case.method, base + case.path, body=case.body, headers=case.headers, timeout=60
        )
    except urllib3.exceptions.HTTPError as error:
        return 0, type(error).__name__.encode()
    return answer.status, answer.data


def named(case: Case, status: int, body: bytes) -> str:
    """How an answer reads: an error should name the field it refused, or at least the problem."""
    if status == 0:
        return "no answer"
    if status >= 500:
        return "5xx"
    if status < 400:
        return "answered"
    try:
        document = json.loads(body)
    except ValueError:
        return "error naming nothing"
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):  # OpenAI's shape
        problem = bool(error.get("message") and (error.get("type") or error.get("code")))
    else:
        problem = bool(error and (document.get("message") or document.get("problems")))
    if not problem:
        return "error naming nothing"
    text = body.decode("utf-8", "replace")
    parts = {part for field in case.fields for part in field.split(".") if not part.isdigit()}
    if not parts:
        return "error naming the problem"
    return "error naming the field" if any(part in text for part in parts) else "field not named"


WORTH_SHOWING = ("5xx", "no answer", "field not named", "error naming nothing")


def hostile(targets: dict[str, str], cases: list[Case]) -> dict[str, Any]:
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    verdicts: Counter[str] = Counter()
    legal_refused = []
    examples: dict[str, list[str]] = defaultdict(list)
    for target, base in targets.items():
        for case in cases:
            status, body = send(base, case)
            verdict = named(case, status, body)
            if verdict in WORTH_SHOWING and len(examples[verdict]) < 3:
                examples[verdict].append(
                    f"{target} {case.method} {case.path[:40]} ({case.category}, breaks "
                    f"{', '.join(f[:40] for f in case.fields) or '-'}): {status} "
                    f"{body[:200].decode('utf-8', 'replace')}"
                )
            if case.valid and 400 <= status < 500 and "credentials" not in case.category:
                legal_refused.append((target, case.category, status))
            key = f"{case.category}{' (legal)' if case.valid else ''}"
            route = "chat" if case.path == CHAT else "inference"
            by_category[key][verdict] += 1
            statuses[key][status] += 1
            verdicts[verdict] += 1
            by_category[f"= {target} {route}"]["sent"] += 1
    return {
        "by_category": by_category, "statuses": statuses, "verdicts": verdicts,
        "legal_refused": legal_refused, "examples": examples,
    }  # fmt: skip


# -- 2. load with faults -----------------------------------------------------------------------


def start_load(url: str, seconds: float, concurrency: int, pause_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own script  # nosec B603
        [sys.executable, "-c", CLIENT, url, str(seconds), str(concurrency), str(pause_s),
         json.dumps(PROMPTS), CAMPAIGN_KEY],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


@contextmanager
def recording_fails(runtime: OfflineRuntime, failing: threading.Event) -> Iterator[list[str]]:
    """While `failing` is set, the monitor crashes on every RecordOutcome event it is given
    (Lambda retries it twice, then parks it in the record dead-letter queue)."""
    assert runtime.lambdas is not None
    handlers = runtime.lambdas.handlers
    real = handlers["monitor"]
    crashed: list[str] = []

    def monitor(event: dict[str, Any], context: Any) -> Any:
        if failing.is_set() and event.get("action") == "store":
            crashed.append(event["record"]["request_id"])
            raise MemoryError("Runtime exited with error: signal: killed")
        return real(event, context)

    handlers["monitor"] = monitor
    try:
        yield crashed
    finally:
        handlers["monitor"] = real


def faults(seconds: float, killed: NodeProcess, slowed: NodeProcess, failing: threading.Event,
           log: list[str]) -> Callable[[], None]:  # fmt: skip
    """The schedule, on timers from now; returns a function that undoes what is still undone."""
    started = time.monotonic()
    stop_slowing = threading.Event()

    def kill() -> None:
        killed.process.kill()
        log.append(f"{0.2 * seconds:.0f} s: {killed.profile.node_id} killed (SIGKILL)")

    def slow() -> None:
        log.append(f"{0.35 * seconds:.0f}-{0.65 * seconds:.0f} s: {slowed.profile.node_id} "
                   "frozen 1 s in every 1.5 s (slow, then hung)")  # fmt: skip
        while time.monotonic() < started + 0.65 * seconds and not stop_slowing.is_set():
            os.kill(slowed.process.pid, signal.SIGSTOP)
            stop_slowing.wait(1.0)
            os.kill(slowed.process.pid, signal.SIGCONT)
            stop_slowing.wait(0.5)

    def fail_recording() -> None:
        failing.set()
        log.append(f"{0.5 * seconds:.0f}-{0.8 * seconds:.0f} s: the monitor's recording crashes")

    timers = [
        threading.Timer(0.2 * seconds, kill),
        threading.Timer(0.35 * seconds, slow),
        threading.Timer(0.5 * seconds, fail_recording),
        threading.Timer(0.8 * seconds, failing.clear),
    ]
    for timer in timers:
        timer.daemon = True
        timer.start()

    def undo() -> None:
        stop_slowing.set()
        for timer in timers:
            timer.cancel()
            if timer.is_alive():
                timer.join()
        failing.clear()
        if slowed.process.poll() is None:
            os.kill(slowed.process.pid, signal.SIGCONT)

    return undo


def stored_ids(runtime: OfflineRuntime) -> Counter[str]:
    dynamodb, seen = client("dynamodb"), Counter[str]()
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=runtime.names.decisions_table, ProjectionExpression="request_id"
    )
    for page in pages:
        seen.update(item["request_id"]["S"] for item in page["Items"])
    return seen


def outcome_events(runtime: OfflineRuntime) -> tuple[dict[str, set[str]], int]:
    """Each request's successful outcome events (distinct event ids), and how many events the
    stream delivered more than once (the aggregator drops those by event id)."""
    per_request: dict[str, set[str]] = defaultdict(set)
    ids: Counter[str] = Counter()

    def read(batch: dict[str, Any], _: Any) -> dict[str, Any]:
        for record in batch["Records"]:
            event = json.loads(base64.b64decode(record["kinesis"]["data"]))
            ids[event.get("event_id", "")] += 1
            if event.get("kind") in ("outcome", "replay") and event.get("success"):
                per_request[event["request_id"]].add(event["event_id"])
        return {"batchItemFailures": []}

    StreamConsumer(runtime.names.metrics_stream, read).drain()
    return per_request, sum(count - 1 for count in ids.values() if count > 1)


def load_with_faults(
    runtime: OfflineRuntime, api: str, gateway: str, site: str, seconds: float
) -> dict[str, Any]:
    nodes = {node.profile.site: node for node in runtime.nodes}
    killed = nodes[site]  # the gateway's own site: both paths lose it
    slowed = next(node for node in runtime.nodes if node is not killed)
    failing, log = threading.Event(), list[str]()
    with recording_fails(runtime, failing) as crashed:
        clients = {
            "regional": start_load(api, seconds, concurrency=6, pause_s=0.0),
            "edge": start_load(gateway, seconds, concurrency=4, pause_s=0.05),
        }
        undo = faults(seconds, killed, slowed, failing, log)
        try:
            answers = {path: json.loads(c.communicate()[0]) for path, c in clients.items()}
        finally:
            undo()
        runtime.settle(60)
    queue = SqsQueue(runtime.record_dead_letters_url)
    parked = queue.depth()
    report = redrive_queue(
        queue,
        DynamoDecisionLog(runtime.names.decisions_table),
        KinesisMetricsStream(runtime.names.metrics_stream),
    )
    shipped = drained(gateway)
    records, (outcomes, redelivered) = stored_ids(runtime), outcome_events(runtime)
    paths = {}
    for path, results in answers.items():
        answered = [rid for status, rid in results if status == 200]
        failed = [rid for status, rid in results if status != 200 and rid]
        paths[path] = {
            "sent": len(results),
            "statuses": Counter(status for status, _ in results),
            "answered": len(answered),
            "lost": sum(records[rid] != 1 or len(outcomes[rid]) != 1 for rid in answered),
            "double": sum(records[rid] > 1 or len(outcomes[rid]) > 1 for rid in answered),
            "failed unrecorded": sum(records[rid] != 1 for rid in failed),
        }
    return {
        "paths": paths, "log": log, "crashed": len(crashed), "parked": parked,
        "redriven": report.stored, "still_parked": report.still_unstored,
        "shipped": shipped, "redelivered": redelivered,
    }  # fmt: skip


# -- the run -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hostile", type=int, default=1200, help="hostile requests per target")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the load run")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    cases = campaign(args.hostile, args.seed)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    keys = work / "api-keys.json"
    caller = {"key_sha256": key_hash(CAMPAIGN_KEY), "user_id": "campaign"}
    keys.write_text(json.dumps({"keys": [caller]}))
    with OfflineRuntime(time_scale=0.1) as runtime:
        site = sites_of(runtime)[0]
        # The campaign's caller is one key: its per-caller limit is not what is measured here.
        limits = {"CALLER_RATE_PER_S": "100000", "CALLER_BURST": "100000"}
        gateway = GatewayProcess(site, work, extra_env={"API_KEYS_FILE": str(keys), **limits})
        gateway.start()
        api = serve(runtime, 0, {site: gateway.url}, FileApiKeys(keys)).start()
        try:
            say(f"hostile: {len(cases)} requests to each of the regional API and the gateway")
            found = hostile({"regional API": api.url, "gateway": gateway.url}, cases)
            say(f"load with faults: {args.seconds:.0f} s on both paths")
            loaded = load_with_faults(runtime, api.url, gateway.url, site, args.seconds)
        finally:
            api.stop()
            gateway.stop()
    say(hostile_table(found))
    say(load_table(loaded))
    say(f"(whole campaign {time.monotonic() - started:.0f} s; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    return 0


def hostile_table(found: dict[str, Any]) -> str:
    verdicts: Counter[str] = found["verdicts"]
    sent = sum(verdicts.values())
    lines = [
        "",
        "| hostile requests | sent | statuses | how the answer read |",
        "|---|---|---|---|",
    ]
    for category in sorted(found["statuses"]):
        statuses, read = found["statuses"][category], found["by_category"][category]
        lines.append(
            f"| {category} | {sum(statuses.values())} | "
            + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
            + " | " + ", ".join(f"{v} {n}" for v, n in read.most_common()) + " |"
        )  # fmt: skip
    for target in sorted(k for k in found["by_category"] if k.startswith("= ")):
        lines.append(f"| {target[2:]} | {found['by_category'][target]['sent']} | | |")
    lines.append(
        f"| **all** | {sent} | 5xx: {verdicts['5xx']}, no answer: {verdicts['no answer']} | "
        f"named the field {verdicts['error naming the field']}, named the problem "
        f"{verdicts['error naming the problem']}, field not named {verdicts['field not named']}, "
        f"naming nothing {verdicts['error naming nothing']}, answered {verdicts['answered']} |"
    )
    totals: Counter[int] = sum(found["statuses"].values(), Counter())
    lines.append("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(totals.items())))
    if found["legal_refused"]:
        lines.append(f"legal requests refused: {found['legal_refused']}")
    for verdict, shown in found["examples"].items():
        lines += [f"{verdict}, e.g.:"] + [f"  {example}" for example in shown]
    return "\n".join(lines)


def load_table(loaded: dict[str, Any]) -> str:
    lines = [
        "",
        "| load with faults | sent | statuses | answered | lost | double-counted "
        "| failed, unrecorded |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for path, figures in loaded["paths"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(figures["statuses"].items()))
        lines.append(
            f"| {path} | {figures['sent']} | {statuses} | {figures['answered']} | "
            f"{figures['lost']} | {figures['double']} | {figures['failed unrecorded']} |"
        )
    lines += ["", "faults: " + "; ".join(loaded["log"])]
    lines.append(
        f"recording: {loaded['crashed']} monitor crashes, {loaded['parked']} parked, "
        f"{loaded['redriven']} redriven, {loaded['still_parked']} still parked; gateway queue "
        f"{'drained' if loaded['shipped'] else 'NOT drained'}; {loaded['redelivered']} events "
        "delivered twice on the stream (dropped by event id)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
