"""Every agent's warm handler against moto, MEC targets on real node processes: its time and
its AWS calls."""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import io
import json
import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mecroute.adapters.aws import reset_clients
from mecroute.agents import monitor
from mecroute.domain.messages import MonitorRecord
from mecroute.domain.registry import Heartbeat
from mecroute.domain.tasks import SucceededTask
from mecroute.lambda_support.manifest import AGENTS
from mecroute.local.fleet import DEFAULT_SITES, NodeProcess, start_nodes, write_site_keys
from mecroute.local.lambdas import FakeLambdaContext, Handler, load_handler
from mecroute.local.names import NOT_FOR_MOCKED_HANDLERS, Names
from mecroute.local.runtime import REGION, ZOO_DIR
from suite import aws_units
from suite.paths import LAMBDAS_DIR, event
from suite.table import Row
from suite.timing import Plan, summary

PROMPT = "What is the capital of France?"
# The pipeline's agents and the stream consumer every answered request feeds.
MEASURED = (*AGENTS, "aggregator")
# Lambda bills duration in steps of this many milliseconds.
LAMBDA_DURATION_INCREMENT_MS = 1


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
        health = http.health(node.endpoint, node.profile.node_id)
        beat = Heartbeat(heartbeat_at=time.time(), hot_models=health.hot_models)
        directory.put(node.profile.node_record(node.endpoint, REGION, beat))
    return {node.profile.node_id: node for node in nodes}


def varied(base: dict[str, Any], index: int) -> dict[str, Any]:
    """A distinct request each call, so no call is answered from another's cache entry, and
    one that has just arrived (its deadline counts from then)."""
    copy: dict[str, Any] = json.loads(json.dumps(base))
    request_id = f"bench-{index:06d}"
    holder = copy.get("context", copy.get("request", copy))
    if "request_id" in holder:
        holder["request_id"] = request_id
    if "request_id" in copy:
        copy["request_id"] = request_id
    if "record" in copy:  # a stored record is idempotent on its request id: a new one each call
        copy["record"]["request_id"] = request_id
    for record in copy.get("Records", []):  # the aggregator drops an event id it has seen
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        data |= {"request_id": request_id, "event_id": f"{request_id}:0"}
        record["kinesis"]["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    if "context" in copy:
        prompt = f"{PROMPT} (variant {index})"
        copy["context"]["request"]["prompt"] = prompt
        copy["context"]["prompt_sha256"] = hashlib.sha256(prompt.encode()).hexdigest()
        copy["context"]["received_at"] = time.time()
    return copy


def answer() -> MonitorRecord:
    """The answer ComposeAnswer builds for the sample RecordOutcome task: what the asynchronous
    RecordOutcome event hands the monitor to store."""
    task = SucceededTask.model_validate(event("record_outcome"))
    return monitor.build_record(task, time.time())


def outcome_batch() -> dict[str, Any]:
    """The aggregator's Kinesis event holding the sample answer's one outcome event."""
    record = answer()
    (outcome,) = monitor.events_for(record)
    data = base64.b64encode(outcome.model_dump_json().encode()).decode()
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventID": "shardId-000000000000:1",
                "eventName": "aws:kinesis:record",
                "eventVersion": "1.0",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/metrics",
                "awsRegion": REGION,
                "invokeIdentitySourceArn": "arn:aws:iam::000000000000:role/aggregator",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.request_id,
                    "sequenceNumber": "1",
                    "data": data,
                    "approximateArrivalTimestamp": time.time(),
                },
            }
        ]
    }


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
        "monitor (answer)": ("monitor", event("record_outcome")),
        "monitor (store)": ("monitor", {"action": "store", "record": answer().model_dump()}),
        "monitor (attempt failure)": ("monitor", event("record_attempt_failure")),
        "aggregator (one outcome event)": ("aggregator", outcome_batch()),
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


class SdkCalls:
    """Time spent inside AWS SDK calls (moto's emulation here), which calls were made, and
    what they are billed in (request units, kilobytes: `aws_units`)."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.calls: collections.Counter[str] = collections.Counter()
        self.units: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def clear(self) -> None:
        self.calls.clear()
        self.units.clear()

    @contextlib.contextmanager
    def counting(self) -> Iterator[SdkCalls]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call

        def timed(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            response: Any = {}  # a refused call (a failed condition) still bills its request
            try:
                response = original(client, operation, params)
                return response
            finally:
                elapsed_ms = (time.perf_counter() - started) * 1000
                service = client.meta.service_model.service_name
                billed = aws_units.units(service, operation, params, response)
                with self._lock:
                    self.ms += elapsed_ms
                    self.calls[f"{service}:{operation}"] += 1
                    self.units.update(billed)

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
                sdk.clear()
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
        "aws_units_per_invocation": {
            unit: amount / plan.handler_calls for unit, amount in sorted(sdk.units.items())
        },
        "output_bytes": output_bytes,
    }


def run(plan: Plan) -> dict[str, Any]:
    from moto import mock_aws

    from mecroute.local import seed

    names = Names()
    # The router logs every decision at INFO, Lambda's default level.
    values = names.handler_environment(REGION, log_level="INFO")
    removed = NOT_FOR_MOCKED_HANDLERS
    # The nodes sign-check every call, as deployed; their keys in files (no AWS for the nodes).
    keys_dir = tempfile.mkdtemp(prefix="mecroute-bench-keys-")
    keys = write_site_keys([site.node_id for site in DEFAULT_SITES], Path(keys_dir))
    values.update(keys)
    nodes = start_nodes(
        DEFAULT_SITES,
        node_env() | keys,
        time_scale=0.0,
        heartbeat_s=5.0,
        extra_arguments=("--models-dir", str(ZOO_DIR)),
    )
    results: dict[str, Any] = {}
    try:
        with environment(values, removed), contextlib.redirect_stdout(DISCARD), mock_aws():
            reset_clients()
            seed.create_resources(names, ZOO_DIR)
            by_id = register(nodes, names)
            handlers = {agent: load_handler(LAMBDAS_DIR, agent) for agent in MEASURED}
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


def rows(figures: dict[str, Any]) -> list[Row]:
    table = []
    for case, case_figures in figures["cases"].items():
        ms = case_figures["ms"]
        calls = ", ".join(
            f"{count:g} {call.split(':')[1]}"
            for call, count in case_figures["aws_calls_per_invocation"].items()
        )
        in_aws = (
            f"in AWS SDK calls on moto {case_figures['aws_sdk_ms']['p50']:.2f} ms: {calls})"
            if calls
            else "no AWS call)"
        )
        table.append(
            Row(
                f"Warm handler: {case}",
                f"{ms['p50']:.2f} ms (p99 {ms['p99']:.2f} ms; {in_aws}",
                "-",
                None,
            )
        )
    return table
