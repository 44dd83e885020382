"""Platform benchmark: the router's and the agents' costs in time and money, against budgets.

    .venv/bin/python bench/bench_platform.py      (or `make bench`; docs/performance.md)
    .venv/bin/python bench/bench_platform.py --quick --only router cold    (a smoke run)

Measures, on this machine and offline: the router's decision (3 tiers, 8 MEC nodes), context
analysis with the ONNX complexity model, every agent's warm handler against moto, each agent's
cold initialisation in a fresh interpreter beside the floor every handler pays, the whole
offline pipeline at concurrency 1 and 16, the MEC node's serving overhead (bench_node.py's
measurement), the Lambda layers' unzipped sizes, and the platform cost per million requests
from the measured durations, the configured memory sizes and AWS list prices.

Prints a table of each figure against its budget, writes bench/results/latest.json and
bench/results/latest.md (a --quick or --only run writes build/bench-results/ instead). The
machine may be shared: figures are medians over several rounds, with the spread of the round
medians, the CPU-bound ones also in units of a reference loop timed beside them, and budgets
are quoted as ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime
import gc
import hashlib
import io
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bench_node
import onnxruntime

from mecroute.adapters.aws import reset_clients
from mecroute.adapters.memory import MemoryDecisionLog
from mecroute.agents import context as context_agent
from mecroute.agents import router
from mecroute.complexity.model import shipped
from mecroute.domain.messages import (
    CloudStatus,
    ContextAnalysis,
    NodeStatus,
    ResourceSnapshot,
    TierStat,
)
from mecroute.domain.registry import Heartbeat, ModelSpec
from mecroute.domain.request import CriterionWeights, InferenceRequest
from mecroute.local.fleet import DEFAULT_SITES, NodeProcess, start_nodes
from mecroute.local.lambdas import AGENTS, FakeLambdaContext, Handler, load_handler
from mecroute.local.runtime import REGION, ZOO_DIR, Names, OfflineRuntime
from mecroute.mec.profiles import PROFILES
from mecroute.mec.zoo import build_zoo

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
EVENTS_DIR = ROOT / "tests" / "events"
RESULTS_DIR = ROOT / "bench" / "results"
# Quick or partial runs land in build/ (ignored by git), so they never replace a full run's table.
PARTIAL_RESULTS_DIR = ROOT / "build" / "bench-results"
LAYER_CACHE = ROOT / "build" / "layers"

# -- budgets (issue 8) ----------------------------------------------------------------------------
ROUTER_P50_BUDGET_US = 100.0
CONTEXT_P50_BUDGET_MS = 2.0
COLD_INIT_BUDGET_RATIO = 1.3
LAYER_BUDGET_MB = 150.0
PLATFORM_COST_BUDGET_USD = 6.50
# Lambda's own quota: a function and all its layers, unzipped.
LAMBDA_UNZIPPED_QUOTA_MB = 250.0

# -- AWS list prices: us-east-1, on-demand, first volume tier -----------------------------------
# From aws.amazon.com/{api-gateway,step-functions,lambda}/pricing as published on this date;
# this machine is offline, so re-check them there before quoting the cost to anyone.
PRICES_AS_OF = "2025-06-01"
API_GATEWAY_REST_PER_MILLION_USD = 3.50  # REST API requests, first 333 million a month
EXPRESS_PER_MILLION_USD = 1.00  # Step Functions Express requests
EXPRESS_PER_GB_SECOND_USD = 0.06 / 3600  # $0.06 per GB-hour, first 1,000 GB-hours a month
EXPRESS_DURATION_INCREMENT_MS = 100  # duration is rounded up to the next 100 ms
EXPRESS_MEMORY_CHUNK_MB = 64  # memory is billed in 64 MB chunks
# The pricing page's estimate: 50 MB + definition size + execution data size (no Map/Parallel).
EXPRESS_BASE_MEMORY_MB = 50.0
LAMBDA_REQUESTS_PER_MILLION_USD = 0.20
LAMBDA_ARM64_PER_GB_SECOND_USD = 0.0000133334  # first 7.5 billion GB-seconds a month
LAMBDA_DURATION_INCREMENT_MS = 1
# Not measurable offline: what Step Functions adds per Lambda task state (the Invoke round
# trip and the transitions) to the Express execution's duration. An assumption, said so.
EXPRESS_TASK_OVERHEAD_MS = 20.0

# -- repetitions ----------------------------------------------------------------------------------
MEC_NODES = 8
REFERENCE_CALLS = 200
PROMPT = "What is the capital of France?"
LONG_PROMPT = " ".join(
    ["Compare the economic policies of the two governments and explain why each one"] * 28
)


@dataclasses.dataclass(frozen=True)
class Plan:
    rounds: int = 10
    router_calls: int = 1000
    context_calls: int = 500
    handler_calls: int = 100
    handler_warmup: int = 15
    cold_runs: int = 9
    pipeline_c1: int = 20
    pipeline_c16: int = 64


QUICK = Plan(
    rounds=2,
    router_calls=300,
    context_calls=200,
    handler_calls=20,
    handler_warmup=3,
    cold_runs=3,
    pipeline_c1=8,
    pipeline_c16=32,
)


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the budget table."""

    figure: str
    value: str
    budget: str
    ratio: float | None  # value / budget; None: no budget, shown for context

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "-"
        return "PASS" if self.ratio <= 1.0 else "MISS"


def say(text: str = "") -> None:
    print(text, flush=True)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": bench_node.percentile(samples, 0.50),
        "p95": bench_node.percentile(samples, 0.95),
        "p99": bench_node.percentile(samples, 0.99),
        "mean": statistics.fmean(samples),
        "min": min(samples),
        "max": max(samples),
    }


def reference_loop() -> int:
    """A fixed pure-Python workload. A figure divided by it compares across machines, and
    across a busy and a quiet spell of a shared one."""
    return sum(i * i for i in range(1000))


def timings(call: Callable[[], object], calls: int) -> list[float]:
    """Microseconds per call, one call at a time."""
    measured = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        measured.append((time.perf_counter_ns() - started) / 1000)
    return measured


def repeated(call: Callable[[], object], plan: Plan, calls: int) -> dict[str, Any]:
    """Time `call` in rounds, each next to a round of the reference loop; microseconds."""
    timings(call, max(50, calls // 10))
    timings(reference_loop, 50)
    samples: list[float] = []
    round_medians: list[float] = []
    ratios: list[float] = []
    for _ in range(plan.rounds):
        gc.collect()
        reference = statistics.median(timings(reference_loop, REFERENCE_CALLS))
        mine = timings(call, calls)
        samples.extend(mine)
        round_medians.append(statistics.median(mine))
        ratios.append(round_medians[-1] / reference)
    return {
        "us": summary(samples),
        "round_p50_us": [round(m, 2) for m in round_medians],
        "per_s_one_core": 1e6 / statistics.fmean(samples),
        "p50_in_reference_loops": statistics.median(ratios),
    }


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this thread to one CPU for a single-core figure (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    core = max(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return loaded


def zoo_specs() -> list[ModelSpec]:
    return [spec for spec, _ in build_zoo(ZOO_DIR)]


def bench_reference(plan: Plan) -> dict[str, Any]:
    with one_core():
        return {"us": summary(timings(reference_loop, REFERENCE_CALLS * plan.rounds))}


# -- 1. router ------------------------------------------------------------------------------------


def router_inputs(specs: list[ModelSpec]) -> tuple[ContextAnalysis, ResourceSnapshot]:
    """Eight nodes over the three site profiles, some busy, with learned statistics."""
    sites = list(PROFILES.values())
    nodes = []
    stats = []
    for index in range(MEC_NODES):
        profile = sites[index % len(sites)]
        busy = index % profile.slots
        node_id = f"mec-{profile.site}-{index + 1}"
        nodes.append(
            NodeStatus(
                node_id=node_id,
                site=profile.site,
                endpoint=f"http://10.0.{index}.10:9000",
                region=REGION,
                healthy=True,
                slots=profile.slots,
                free_slots=profile.slots - busy,
                queue_depth=0,
                queue_limit=profile.queue_limit,
                utilisation=busy / profile.slots,
                speed_factor=profile.speed_factor,
                site_rtt_ms=profile.site_rtt_ms,
                memory_budget_mb=profile.memory_budget_mb,
                hot_models=list(profile.preload),
                heartbeat_age_s=1.0,
            )
        )
        for model_id in profile.preload:
            stats.append(
                TierStat(
                    tier="mec",
                    node_id=node_id,
                    model_id=model_id,
                    latency_ewma_ms=40.0 + 5 * index,
                    latency_p95_ms=90.0 + 5 * index,
                    success_rate=0.995,
                    samples=200,
                )
            )
    snapshot = ResourceSnapshot(
        taken_at=time.time(),
        nodes=nodes,
        models=specs,
        cloud=CloudStatus(
            available=True, provider="simulator", region=REGION, backhaul_rtt_ms=60.0
        ),
        stats=stats,
    )
    request = InferenceRequest.model_validate(event("analyze_context")["request"])
    context = ContextAnalysis(
        request_id="bench-0001",
        request=request,
        task_type="qa",
        complexity=0.35,
        complexity_source="onnx",
        input_tokens=8,
        output_tokens=64,
        device_score=0.45,
        network_score=0.8,
        personal_data=[],
        effective_privacy=request.privacy,
        prompt_sha256=hashlib.sha256(request.prompt.encode()).hexdigest(),
        received_at=time.time(),
    )
    return context, snapshot


def bench_router(plan: Plan, specs: list[ModelSpec]) -> dict[str, Any]:
    context, snapshot = router_inputs(specs)
    weights = CriterionWeights()
    decision = router.route(context, snapshot, weights)
    options = sum(1 for _ in router.enumerate_options(snapshot))
    with one_core() as core:
        timing = repeated(lambda: router.route(context, snapshot, weights), plan, plan.router_calls)
    return {
        **timing,
        "core": core,
        "tiers": 3,
        "mec_nodes": len(snapshot.nodes),
        "models": len(snapshot.models),
        "options": options,
        "rejected": len(decision.rejected),
        "primary": decision.primary.label if decision.primary else None,
    }


# -- 2. context analysis --------------------------------------------------------------------------


def bench_context(plan: Plan) -> dict[str, Any]:
    model = shipped()
    history = MemoryDecisionLog()
    request = event("analyze_context")["request"]
    long_request = {**request, "prompt": LONG_PROMPT}
    figures: dict[str, Any] = {}
    with one_core() as core:
        figures["sample_event"] = repeated(
            lambda: context_agent.analyze("bench", request, history, time.time(), model),
            plan,
            plan.context_calls,
        )
        figures["long_prompt"] = repeated(
            lambda: context_agent.analyze("bench", long_request, history, time.time(), model),
            plan,
            plan.context_calls // 2,
        )
        figures["onnx_only"] = repeated(
            lambda: model.complexity(request["prompt"]), plan, plan.context_calls
        )
    figures["core"] = core
    figures["prompt_chars"] = {"sample_event": len(request["prompt"]), "long": len(LONG_PROMPT)}
    return figures


# -- 3. warm handlers against moto ---------------------------------------------------------------


def node_env() -> dict[str, str]:
    """Nodes with no AWS at all: they serve the zoo directory; we register them ourselves."""
    skipped = {"NODES_TABLE", "ARTIFACTS_BUCKET", "MODELS_TABLE"}
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in skipped
    } | {"PYTHONUNBUFFERED": "1"}


def register(nodes: list[NodeProcess], names: Names) -> dict[str, NodeProcess]:
    """What each node's heartbeat would write: its record with the models it holds now."""
    from mecroute.adapters.dynamodb import DynamoNodeDirectory
    from mecroute.adapters.mec_http import HttpMecNodes

    directory = DynamoNodeDirectory(names.nodes_table)
    http = HttpMecNodes(health_timeout_s=5)
    for node in nodes:
        profile = node.profile
        health = http.health(node.endpoint)
        beat = Heartbeat(heartbeat_at=time.time(), hot_models=health.hot_models)
        directory.put(profile.node_record(node.endpoint, REGION, beat))
    return {node.profile.node_id: node for node in nodes}


def varied(base: dict[str, Any], index: int) -> dict[str, Any]:
    """A distinct request each call, so no call is answered from another's cache entry."""
    copy: dict[str, Any] = json.loads(json.dumps(base))
    request_id = f"bench-{index:06d}"
    holder = copy.get("context", copy)
    if "request_id" in holder:
        holder["request_id"] = request_id
    if "request_id" in copy:
        copy["request_id"] = request_id
    if "context" in copy:
        prompt = f"{PROMPT} (variant {index})"
        copy["context"]["request"]["prompt"] = prompt
        copy["context"]["prompt_sha256"] = hashlib.sha256(prompt.encode()).hexdigest()
    return copy


def handler_events(nodes: dict[str, NodeProcess]) -> dict[str, tuple[str, dict[str, Any]]]:
    """(agent, event) per measured case; MEC targets point at a real node process."""
    metro = nodes["mec-metro-1"]
    prepare = event("prepare_model")
    prepare["target"] |= {"node_id": "mec-metro-1", "endpoint": metro.endpoint}
    mec_plan = {
        "request_id": prepare["context"]["request_id"],
        "target": prepare["target"],
        "placement": "hot",
        "action": "none",
    }
    device = event("execute_device")
    cloud_target = device["target"] | {
        "tier": "cloud",
        "model_id": "cloud-frontier-v1",
        "placement": "cold",
    }
    cloud_plan = device["plan"] | {"target": cloud_target, "placement": "cold"}
    return {
        "context": ("context", event("analyze_context")),
        "resource": ("resource", event("assess_resources")),
        "router": ("router", event("route_request")),
        "cache": ("cache", prepare),
        "execute (mec)": (
            "execute",
            {"context": prepare["context"], "target": prepare["target"], "plan": mec_plan},
        ),
        "execute (device)": ("execute", device),
        "execute (cloud simulator)": (
            "execute",
            {"context": device["context"], "target": cloud_target, "plan": cloud_plan},
        ),
        "monitor (outcome)": ("monitor", event("record_outcome")),
        "monitor (attempt failure)": ("monitor", event("record_attempt_failure")),
    }


@contextlib.contextmanager
def environment(values: dict[str, str], removed: tuple[str, ...] = ()) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*values, *removed)}
    os.environ.update(values)
    for name in removed:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Discard(io.TextIOBase):
    """Where logs and EMF lines go: formatted and written, as in Lambda, then dropped."""

    def write(self, text: str) -> int:
        return len(text)


DISCARD = Discard()


def quiet_observability(sink: io.TextIOBase) -> None:
    """Logs and EMF metrics still get formatted and written, as in Lambda, but to `sink`."""
    import logging

    from mecroute.lambda_support import observability

    handler = observability.logger.logger_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sink)


def bench_handlers(plan: Plan) -> dict[str, Any]:
    from moto import mock_aws

    from mecroute.local import seed

    names = Names()
    values = {
        **names.environment(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # X-Ray needs the Lambda service's trace header; without it the tracer stays off.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "mecroute",
        "POWERTOOLS_METRICS_NAMESPACE": "MecRoute",
        "POWERTOOLS_LOG_LEVEL": "INFO",  # Lambda's default: the router logs every decision
    }
    removed = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV")
    nodes = start_nodes(
        DEFAULT_SITES,
        node_env(),
        time_scale=0.0,
        heartbeat_s=5.0,
        extra_arguments=("--models-dir", str(ZOO_DIR)),
    )
    results: dict[str, Any] = {}
    try:
        with (
            environment(values, removed),
            contextlib.redirect_stdout(DISCARD),
            mock_aws(),
        ):
            reset_clients()
            seed.create_resources(names, ZOO_DIR)
            by_id = register(nodes, names)
            handlers: dict[str, Handler] = {
                agent: load_handler(LAMBDAS_DIR, agent) for agent in AGENTS
            }
            quiet_observability(DISCARD)
            for case, (agent, base) in handler_events(by_id).items():
                results[case] = time_handler(handlers[agent], agent, base, plan)
                register(nodes, names)  # a heartbeat: the node's current models, fresh age
            reset_clients()
    finally:
        for node in nodes:
            node.stop()
    return {
        "cases": results,
        "mec_targets": "real `mecroute node` processes (the three default sites, time scale 0: "
        "real ONNX compute, no emulated sleeps), registered in moto's nodes table",
    }


class SdkCalls:
    """Time spent inside AWS SDK calls (moto's emulation here), and which calls were made."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def counting(self) -> Iterator[SdkCalls]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call

        def timed(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                elapsed_ms = (time.perf_counter() - started) * 1000
                with self._lock:
                    self.ms += elapsed_ms
                    self.calls[f"{client.meta.service_model.service_name}:{operation}"] += 1

        setattr(BaseClient, "_make_api_call", timed)  # noqa: B010 - patched for this run only
        try:
            yield self
        finally:
            setattr(BaseClient, "_make_api_call", original)  # noqa: B010


def time_handler(handler: Handler, agent: str, base: dict[str, Any], plan: Plan) -> dict[str, Any]:
    context = FakeLambdaContext(function_name=f"mecroute-{agent}")
    durations: list[float] = []
    in_sdk: list[float] = []
    output_bytes = 0
    sdk = SdkCalls()
    with sdk.counting():
        for index in range(plan.handler_warmup + plan.handler_calls):
            payload = varied(base, index)
            if index == plan.handler_warmup:
                sdk.calls.clear()
            sdk_before = sdk.ms
            started = time.perf_counter()
            output = handler(payload, context)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if index == 0:
                output_bytes = len(json.dumps(output))
            if index >= plan.handler_warmup:
                durations.append(elapsed_ms)
                in_sdk.append(sdk.ms - sdk_before)
    step = LAMBDA_DURATION_INCREMENT_MS
    billed = [math.ceil(d / step) * step for d in durations]
    own = [total - aws for total, aws in zip(durations, in_sdk, strict=True)]
    return {
        "ms": summary(durations),
        "billed_mean_ms": statistics.fmean(billed),
        "aws_sdk_ms": summary(in_sdk),
        "own_ms": summary(own),
        "aws_calls_per_invocation": {
            call: count / plan.handler_calls for call, count in sorted(sdk.calls.items())
        },
        "output_bytes": output_bytes,
    }


# -- 4. cold initialisation -----------------------------------------------------------------------

FLOOR_IMPORTS = (
    "import pydantic, boto3\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "Logger(service='mecroute'); Tracer(service='mecroute')\n"
    "Metrics(namespace='MecRoute', service='mecroute')\n"
)
# `import pydantic` is lazy: its model machinery loads with the first model class. Every
# handler built on pydantic pays that, so the table shows the ratio to this floor too.
PYDANTIC_LOADED = (
    "from pydantic import BaseModel, Field\n"
    "class Probe(BaseModel):\n"
    "    x: int = Field(default=0, ge=0)\n"
)
ONNXRUNTIME = "import onnxruntime\n"
BASELINES = {
    "floor": FLOOR_IMPORTS,
    "floor + onnxruntime": FLOOR_IMPORTS + ONNXRUNTIME,
    "floor, pydantic loaded": FLOOR_IMPORTS + PYDANTIC_LOADED,
    "floor, pydantic loaded + onnxruntime": FLOOR_IMPORTS + PYDANTIC_LOADED + ONNXRUNTIME,
}
CHILD = """\
import sys, time
started, started_cpu = time.perf_counter(), time.process_time()
{body}
cpu = (time.process_time() - started_cpu) * 1000
print("IMPORT_MS", (time.perf_counter() - started) * 1000, cpu)
"""


def cold_cases() -> dict[str, tuple[str, str | None]]:
    """name -> (code run in a fresh interpreter, the lambdas/ directory it runs from)."""
    cases: dict[str, tuple[str, str | None]] = {
        name: (code, None) for name, code in BASELINES.items()
    }
    for agent in AGENTS:
        cases[agent] = ("import handler\n", agent)
    return cases


def cold_environment(agent: str | None) -> dict[str, str]:
    """What Lambda sets: the function's variables, and LAMBDA_TASK_ROOT (which turns the
    tracer on, as it is in the deployed functions). No AWS call is made at import."""
    task_root = str(LAMBDAS_DIR / (agent or "router"))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_"))
    }
    return env | {
        **Names().environment(),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"mecroute-{agent or 'floor'}",
        "LAMBDA_TASK_ROOT": task_root,
        "POWERTOOLS_SERVICE_NAME": "mecroute",
        "POWERTOOLS_METRICS_NAMESPACE": "MecRoute",
    }


def cold_once(code: str, agent: str | None) -> tuple[float, float]:
    """(wall ms, CPU ms) of the imports, measured inside the fresh interpreter."""
    cwd = LAMBDAS_DIR / agent if agent else ROOT
    body = ("sys.path.insert(0, '.')\n" if agent else "") + code
    completed = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", CHILD.format(body=body)],
        cwd=cwd,
        env=cold_environment(agent),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold import of {agent or 'floor'} failed:\n{completed.stderr}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("IMPORT_MS"))
    _, wall_ms, cpu_ms = line.split()
    return float(wall_ms), float(cpu_ms)


def bench_cold(plan: Plan) -> dict[str, Any]:
    """Budget ratios use CPU time: on a shared machine, waiting for a CPU inflates wall time
    by whatever the neighbours do; alone (as in a Lambda sandbox) an import's wall time is
    its CPU time plus file reads. Wall-time medians are reported beside them."""
    from mecroute.lambda_support.manifest import ONNX_AGENTS

    cases = cold_cases()
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    rng = random.Random(8)
    for _ in range(plan.cold_runs):
        rng.shuffle(order)  # interleaved: a noisy spell hits every case alike
        for name in order:
            code, agent = cases[name]
            wall_ms, cpu_ms = cold_once(code, agent)
            walls[name].append(wall_ms)
            cpus[name].append(cpu_ms)
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    wall = {name: statistics.median(values) for name, values in walls.items()}
    agents = {}
    for agent in AGENTS:
        onnx = agent in ONNX_AGENTS
        baseline = "floor + onnxruntime" if onnx else "floor"
        loaded = "floor, pydantic loaded + onnxruntime" if onnx else "floor, pydantic loaded"
        agents[agent] = {
            "cpu_ms": summary(cpus[agent]),
            "wall_ms": summary(walls[agent]),
            "baseline": baseline,
            "ratio": cpu[agent] / cpu[baseline],
            "ratio_wall": wall[agent] / wall[baseline],
            "ratio_of_minimums": min(cpus[agent]) / min(cpus[baseline]),
            "ratio_to_pydantic_loaded": cpu[agent] / cpu[loaded],
        }
    return {
        "runs": plan.cold_runs,
        "baselines_cpu_ms": {name: summary(cpus[name]) for name in BASELINES},
        "baselines_wall_ms": {name: summary(walls[name]) for name in BASELINES},
        "agents": agents,
        "onnx_agents": sorted(ONNX_AGENTS),
    }


# -- 5. the whole offline pipeline ----------------------------------------------------------------


def bench_pipeline(plan: Plan) -> dict[str, Any]:
    counter = iter(range(1_000_000))

    def one(runtime: OfflineRuntime) -> tuple[float, str]:
        index = next(counter)
        run = runtime.run({"prompt": f"{PROMPT} (request {index})", "user_id": f"u{index % 50}"})
        return run.duration_ms, run.status

    figures: dict[str, Any] = {}
    with contextlib.redirect_stdout(DISCARD), OfflineRuntime(time_scale=0.0) as runtime:
        quiet_observability(DISCARD)
        for _ in range(5):
            one(runtime)
        for concurrency, total in ((1, plan.pipeline_c1), (16, plan.pipeline_c16)):
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                done = list(pool.map(lambda _: one(runtime), range(total)))
            elapsed_s = time.perf_counter() - started
            latencies = [ms for ms, _ in done]
            statuses = [status for _, status in done]
            figures[f"c{concurrency}"] = {
                "requests": total,
                "ms": summary(latencies),
                "per_s": total / elapsed_s,
                "succeeded": statuses.count("SUCCEEDED"),
            }
    figures["time_scale"] = 0.0
    return figures


# -- 6. MEC node serving overhead (bench_node.py's measurement) -----------------------------------


def bench_node_overhead() -> dict[str, Any]:
    built = build_zoo(ZOO_DIR)
    model_ids = [spec.model_id for spec, _ in built]
    node = bench_node.start_node(ZOO_DIR, model_ids)
    models = {}
    try:
        for model_id in model_ids:
            round_trips, overheads = bench_node.served_latencies(node.port, model_id)
            models[model_id] = {
                "round_trip_ms": summary(round_trips),
                "overhead_ms": summary(overheads),
            }
    finally:
        node.stop()
    return {
        "models": models,
        "runs_per_model": bench_node.RUNS,
        "budget_p50_ms": bench_node.OVERHEAD_BUDGET_MS,
    }


# -- 7. Lambda layer sizes ------------------------------------------------------------------------


def tree_bytes(directory: Path) -> int:
    return sum(
        p.lstat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink()
    )


def bench_layers() -> dict[str, Any]:
    """Built exactly as `cdk synth` builds them (infra/layers.py's PipBundler), cached by the
    same content hash the asset uses, so a rerun with nothing changed builds nothing."""
    from infra import layers as infra_layers

    extra = " ".join([*infra_layers.PIP_TARGET_FLAGS, *infra_layers.RUNTIME_PROVIDED])
    sizes: dict[str, Any] = {}
    for name, include_package in (("shared", True), ("onnx", False)):
        requirements = ROOT / "layers" / name / "requirements.txt"
        inputs = [requirements, infra_layers.PACKAGE_DIR] if include_package else [requirements]
        digest = infra_layers.content_hash(*inputs, Path(infra_layers.__file__), extra=extra)
        built = LAYER_CACHE / f"{name}-{digest[:16]}"
        cached = built.is_dir()
        if not cached:
            LAYER_CACHE.mkdir(parents=True, exist_ok=True)
            for stale in LAYER_CACHE.glob(f"{name}-*"):
                shutil.rmtree(stale)
            scratch = Path(tempfile.mkdtemp(dir=LAYER_CACHE))
            try:
                bundler = infra_layers.PipBundler(requirements, include_package=include_package)
                bundler.try_bundle(str(scratch), image=None)  # type: ignore[arg-type]
            except BaseException:
                shutil.rmtree(scratch)
                raise
            scratch.rename(built)
        size = tree_bytes(built)
        sizes[name] = {
            "bytes": size,
            "mb": size / 1e6,
            "path": str(built.relative_to(ROOT)),
            "cached": cached,
        }
    return sizes


def function_sizes(layers: dict[str, Any]) -> dict[str, float]:
    """Each agent's code plus the layers it attaches, unzipped, in MB (Lambda allows 250)."""
    from mecroute.lambda_support.manifest import ONNX_AGENTS

    totals = {}
    for agent in AGENTS:
        code = sum(
            p.stat().st_size
            for p in (LAMBDAS_DIR / agent).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        attached = ["shared", *(["onnx"] if agent in ONNX_AGENTS else [])]
        totals[agent] = (code + sum(layers[name]["bytes"] for name in attached)) / 1e6
    return totals


# -- 8. cost per million requests -----------------------------------------------------------------


def cost_per_million(handlers: dict[str, Any], asl_bytes: int) -> dict[str, Any]:
    """Platform cost of one successful request (one of each agent, the execute agent on a MEC
    node), inference excluded: the execute agent's duration is its own work around a node
    that answers at once (time scale 0)."""
    from mecroute.lambda_support.manifest import BY_NAME

    path = {
        "context": "context",
        "resource": "resource",
        "router": "router",
        "cache": "cache",
        "execute": "execute (mec)",
        "monitor": "monitor (outcome)",
    }
    lambdas = {}
    for agent, case in path.items():
        memory_mb = BY_NAME[agent].memory_mb
        billed_ms = handlers[case]["billed_mean_ms"]
        duration_usd = memory_mb / 1024 * billed_ms / 1000 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
        lambdas[agent] = {
            "memory_mb": memory_mb,
            "billed_mean_ms": billed_ms,
            "requests_usd": LAMBDA_REQUESTS_PER_MILLION_USD,
            "duration_usd": duration_usd,
        }
    data_bytes = sum(handlers[case]["output_bytes"] for case in path.values())
    memory_mb = EXPRESS_BASE_MEMORY_MB + (asl_bytes + data_bytes) / 1e6
    billed_memory_gb = (
        math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB / 1024
    )
    execution_ms = sum(lam["billed_mean_ms"] for lam in lambdas.values())
    execution_ms += EXPRESS_TASK_OVERHEAD_MS * len(path)
    billed_execution_ms = (
        math.ceil(execution_ms / EXPRESS_DURATION_INCREMENT_MS) * EXPRESS_DURATION_INCREMENT_MS
    )
    express_duration_usd = billed_memory_gb * billed_execution_ms / 1000 * EXPRESS_PER_GB_SECOND_USD
    express_duration_usd *= 1e6
    lambda_usd = sum(lam["requests_usd"] + lam["duration_usd"] for lam in lambdas.values())
    total = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD + express_duration_usd
    total += lambda_usd
    fixed = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD
    fixed += LAMBDA_REQUESTS_PER_MILLION_USD * len(path)
    execute_gb = BY_NAME["execute"].memory_mb / 1024
    per_10ms_inference = execute_gb * 0.010 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
    return {
        "prices_as_of": PRICES_AS_OF,
        "total_usd": total,
        "fixed_usd": fixed,
        "variable_usd": total - fixed,
        "api_gateway_usd": API_GATEWAY_REST_PER_MILLION_USD,
        "express_requests_usd": EXPRESS_PER_MILLION_USD,
        "express_duration_usd": express_duration_usd,
        "express_execution_ms_estimate": execution_ms,
        "express_billed_ms": billed_execution_ms,
        "express_billed_memory_mb": billed_memory_gb * 1024,
        "express_task_overhead_ms_assumed": EXPRESS_TASK_OVERHEAD_MS,
        "lambdas": lambdas,
        "lambda_usd": lambda_usd,
        "execute_wait_usd_per_10ms_inference": per_10ms_inference,
        "express_usd_per_100ms": EXPRESS_PER_GB_SECOND_USD * billed_memory_gb * 0.1 * 1e6,
    }


# -- the table ------------------------------------------------------------------------------------


def rows(results: dict[str, Any]) -> list[Row]:
    table: list[Row] = []
    if "router" in results:
        r = results["router"]
        table.append(
            Row(
                f"Router decision p50 (3 tiers, {r['mec_nodes']} MEC nodes, "
                f"{r['options']} options)",
                f"{r['us']['p50']:.0f} µs (p99 {r['us']['p99']:.0f} µs; "
                f"{r['per_s_one_core']:,.0f} decisions/s on one core; rounds "
                f"{min(r['round_p50_us']):.0f}-{max(r['round_p50_us']):.0f} µs; "
                f"{r['p50_in_reference_loops']:.1f} reference loops)",
                f"≤ {ROUTER_P50_BUDGET_US:.0f} µs",
                r["us"]["p50"] / ROUTER_P50_BUDGET_US,
            )
        )
    if "context" in results:
        c = results["context"]["sample_event"]
        long = results["context"]["long_prompt"]
        table.append(
            Row(
                "Context analysis p50 (with the ONNX complexity model)",
                f"{c['us']['p50'] / 1000:.3f} ms (p99 {c['us']['p99'] / 1000:.3f} ms; "
                f"{c['p50_in_reference_loops']:.1f} reference loops; "
                f"2 kB prompt p50 {long['us']['p50'] / 1000:.3f} ms)",
                f"≤ {CONTEXT_P50_BUDGET_MS:g} ms",
                c["us"]["p50"] / 1000 / CONTEXT_P50_BUDGET_MS,
            )
        )
    if "cold" in results:
        cold = results["cold"]
        for agent, figures in cold["agents"].items():
            baseline_ms = cold["baselines_cpu_ms"][figures["baseline"]]["p50"]
            table.append(
                Row(
                    f"Cold init: {agent} (CPU time)",
                    f"{figures['cpu_ms']['p50']:.0f} ms = {figures['ratio']:.2f}x "
                    f"{figures['baseline']} ({baseline_ms:.0f} ms); wall time "
                    f"{figures['ratio_wall']:.2f}x; {figures['ratio_to_pydantic_loaded']:.2f}x "
                    "the floor with pydantic's model machinery loaded",
                    f"≤ {COLD_INIT_BUDGET_RATIO:g}x",
                    figures["ratio"] / COLD_INIT_BUDGET_RATIO,
                )
            )
    if "layers" in results:
        for name, layer in results["layers"].items():
            table.append(
                Row(
                    f"Layer `{name}` unzipped",
                    f"{layer['mb']:.1f} MB",
                    f"≤ {LAYER_BUDGET_MB:g} MB",
                    layer["mb"] / LAYER_BUDGET_MB,
                )
            )
    if "function_mb" in results:
        agent, total_mb = max(results["function_mb"].items(), key=lambda item: item[1])
        table.append(
            Row(
                f"Largest function + its layers unzipped ({agent})",
                f"{total_mb:.1f} MB",
                f"≤ {LAMBDA_UNZIPPED_QUOTA_MB:g} MB (Lambda quota)",
                total_mb / LAMBDA_UNZIPPED_QUOTA_MB,
            )
        )
    if "cost" in results:
        cost = results["cost"]
        table.append(
            Row(
                "Platform cost per million requests (inference excluded)",
                f"${cost['total_usd']:.2f} (fixed ${cost['fixed_usd']:.2f} + durations "
                f"${cost['variable_usd']:.2f})",
                f"≤ ${PLATFORM_COST_BUDGET_USD:.2f}",
                cost["total_usd"] / PLATFORM_COST_BUDGET_USD,
            )
        )
    if "node" in results:
        node = results["node"]
        worst_id, worst = max(node["models"].items(), key=lambda kv: kv[1]["overhead_ms"]["p50"])
        table.append(
            Row(
                "MEC node serving overhead p50 (worst model, from bench_node.py)",
                f"{worst['overhead_ms']['p50']:.3f} ms ({worst_id}; p99 "
                f"{worst['overhead_ms']['p99']:.3f} ms)",
                f"< {node['budget_p50_ms']:g} ms",
                worst["overhead_ms"]["p50"] / node["budget_p50_ms"],
            )
        )
    if "handlers" in results:
        for case, figures in results["handlers"]["cases"].items():
            ms = figures["ms"]
            calls = ", ".join(
                f"{count:g} {call.split(':')[1]}"
                for call, count in figures["aws_calls_per_invocation"].items()
            )
            table.append(
                Row(
                    f"Warm handler: {case}",
                    f"{ms['p50']:.2f} ms (p99 {ms['p99']:.2f} ms; "
                    + (
                        f"in AWS SDK calls on moto {figures['aws_sdk_ms']['p50']:.2f} ms: {calls})"
                        if calls
                        else "no AWS call)"
                    ),
                    "-",
                    None,
                )
            )
    if "pipeline" in results:
        for level in ("c1", "c16"):
            p = results["pipeline"][level]
            table.append(
                Row(
                    f"Offline pipeline, concurrency {level[1:]}",
                    f"p50 {p['ms']['p50']:.0f} ms, p95 {p['ms']['p95']:.0f} ms, "
                    f"{p['per_s']:.1f} req/s ({p['succeeded']}/{p['requests']} succeeded)",
                    "-",
                    None,
                )
            )
    return table


def markdown(table: list[Row], results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Measured {results['measured_at']} on {machine['cpus']} CPUs ({machine['machine']}), "
        f"Python {machine['python']}, onnxruntime {machine['onnxruntime']}"
        f"{', quick run' if results['quick'] else ''}; commit {results['commit']}. "
        f"Reference loop (sum of 1,000 squares): {results['reference']['us']['p50']:.1f} µs; "
        f"load average at start {results['load_average_at_start'][0]:.1f}.",
        "",
        "| figure | measured | budget | of budget | verdict |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.figure} | {row.value} | {row.budget} | {ratio} | {row.verdict} |")
    if "cost" in results:
        cost = results["cost"]
        lines += [
            "",
            f"Cost per million requests at AWS list prices of {cost['prices_as_of']} (us-east-1):",
            "",
            "| item | memory | billed duration (mean) | $ / million |",
            "|---|---|---|---|",
            f"| API Gateway REST | - | - | {cost['api_gateway_usd']:.2f} |",
            f"| Step Functions Express requests | - | - | {cost['express_requests_usd']:.2f} |",
            f"| Step Functions Express duration | {cost['express_billed_memory_mb']:.0f} MB | "
            f"{cost['express_billed_ms']} ms (estimated "
            f"{cost['express_execution_ms_estimate']:.0f} ms: agents + "
            f"{cost['express_task_overhead_ms_assumed']:.0f} ms per task, assumed) | "
            f"{cost['express_duration_usd']:.3f} |",
        ]
        for agent, lam in cost["lambdas"].items():
            lines.append(
                f"| Lambda {agent} (request + duration) | {lam['memory_mb']} MB | "
                f"{lam['billed_mean_ms']:.1f} ms | "
                f"{lam['requests_usd']:.2f} + {lam['duration_usd']:.3f} |"
            )
        lines.append(f"| **total** | | | **{cost['total_usd']:.2f}** |")
        lines += [
            "",
            f"Each 10 ms the execute agent waits on an inference adds "
            f"${cost['execute_wait_usd_per_10ms_inference']:.3f} per million (its memory size), "
            f"and each 100 ms of execution ${cost['express_usd_per_100ms']:.3f} (Express).",
        ]
    if "cold" in results:
        baselines = results["cold"]["baselines_cpu_ms"]
        listed = "; ".join(f"{name} {figures['p50']:.0f} ms" for name, figures in baselines.items())
        lines += [
            "",
            f"Cold-init baselines (CPU time, median of {results['cold']['runs']}): {listed}.",
        ]
    return "\n".join(lines) + "\n"


def print_table(table: list[Row]) -> None:
    width = max(len(row.figure) for row in table)
    say(f"\n{'figure':<{width}}  {'verdict':<7}  {'of budget':>9}  {'budget':<10}  measured")
    for row in table:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        say(f"{row.figure:<{width}}  {row.verdict:<7}  {ratio:>9}  {row.budget:<10}  {row.value}")


def git(*arguments: str) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed git command lines
        ["git", *arguments],  # noqa: S607 - git from PATH, as make does
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def commit() -> str:
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


SECTIONS = ("router", "context", "handlers", "cold", "pipeline", "node", "layers")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    sections = args.only or SECTIONS
    sys.path.insert(0, str(ROOT))  # infra/ (memory sizes, ONNX agents, the layer bundler)
    results: dict[str, Any] = {
        "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "quick": args.quick,
        "machine": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
        },
        "plan": dataclasses.asdict(plan),
        "load_average_at_start": os.getloadavg(),
    }
    say(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {plan.rounds} rounds per micro-benchmark"
    )
    specs = zoo_specs()
    results["reference"] = bench_reference(plan)
    say(f"reference loop (sum of 1,000 squares): {results['reference']['us']['p50']:.1f} µs")
    steps: dict[str, Callable[[], Any]] = {
        "router": lambda: bench_router(plan, specs),
        "context": lambda: bench_context(plan),
        "handlers": lambda: bench_handlers(plan),
        "cold": lambda: bench_cold(plan),
        "pipeline": lambda: bench_pipeline(plan),
        "node": bench_node_overhead,
        "layers": bench_layers,
    }
    for name in sections:
        started = time.perf_counter()
        say(f"== {name} ...")
        results[name] = steps[name]()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        results.setdefault("load_average_after", {})[name] = os.getloadavg()
        say(f"   done in {time.perf_counter() - started:.1f} s (load average {load})")
    if "layers" in results:
        results["function_mb"] = function_sizes(results["layers"])
    if "handlers" in results:
        asl_bytes = (ROOT / "statemachines" / "inference_pipeline.asl.json").stat().st_size
        results["cost"] = cost_per_million(results["handlers"]["cases"], asl_bytes)
    table = rows(results)
    print_table(table)
    results["table"] = [dataclasses.asdict(row) | {"verdict": row.verdict} for row in table]
    out = PARTIAL_RESULTS_DIR if args.quick or args.only else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(markdown(table, results))
    say(f"\nwrote {out.relative_to(ROOT)}/latest.json and latest.md")


if __name__ == "__main__":
    main()
