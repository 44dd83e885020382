"""Faults injected into the offline runtime: real node processes killed, frozen or replaced,
real artifacts tampered with in moto's S3, AWS calls refused at botocore's send step (so the
SDK's own retries and parsing run as they would against AWS), and readers of what the
pipeline left behind (decision records, stream events, dead letters)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from mecroute.adapters.aws import client, reset_clients
from mecroute.adapters.node_keys import NodeAccess
from mecroute.adapters.queues import SqsQueue
from mecroute.domain.node_auth import scope_for
from mecroute.local.fleet import NodeProcess
from mecroute.local.runtime import OfflineRuntime

Handler = Callable[[dict[str, Any], Any], Any]


# -- the pipeline's handlers ----------------------------------------------------------------------


@contextmanager
def handler_wrapped(
    runtime: OfflineRuntime, agent: str, wrap: Callable[[Handler], Handler]
) -> Iterator[None]:
    """Replace one agent's in-process handler for the duration (as a fault would hit it)."""
    assert runtime.lambdas is not None
    real = runtime.lambdas.handlers[agent]
    runtime.lambdas.handlers[agent] = wrap(real)
    try:
        yield
    finally:
        runtime.lambdas.handlers[agent] = real


def node_serving(runtime: OfflineRuntime, endpoint: str) -> NodeProcess:
    return next(node for node in runtime.nodes if node.endpoint == endpoint)


# -- inference, counted -------------------------------------------------------------------------


@dataclass
class Counted:
    """Counts the calls that run a model: MEC inference, device runs, cloud Converse."""

    real: Any
    method: str
    calls: int = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if name != self.method:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


@dataclass
class Inferences:
    nodes: Counted
    device: Counted
    cloud: Counted

    @property
    def total(self) -> int:
        return self.nodes.calls + self.device.calls + self.cloud.calls


@contextmanager
def inferences_counted(runtime: OfflineRuntime) -> Iterator[Inferences]:
    assert runtime.lambdas is not None
    module = sys.modules[runtime.lambdas.handlers["execute"].__module__]
    real = module.tiers
    counted = Inferences(
        Counted(real.nodes, "infer"), Counted(real.local_models, "get"),
        Counted(real.cloud, "converse"),
    )  # fmt: skip
    module.tiers = dataclasses.replace(
        real, nodes=counted.nodes, local_models=counted.device, cloud=counted.cloud
    )
    try:
        yield counted
    finally:
        module.tiers = real


@contextmanager
def no_deadline_grace(runtime: OfflineRuntime) -> Iterator[None]:
    """The execute agent held to the deadline exactly, as in AWS (tests/conftest.py gives the
    offline runtimes some grace)."""
    assert runtime.lambdas is not None
    module = sys.modules[runtime.lambdas.handlers["execute"].__module__]
    real = module.tiers
    module.tiers = dataclasses.replace(real, deadline_grace_s=0.0)
    try:
        yield
    finally:
        module.tiers = real


def node_request(node: NodeProcess, method: str, path: str) -> dict[str, Any]:
    """A call to an offline node signed as the agents sign it (the runtime's keys): evict and
    load with the control key, the rest with the infer key."""
    url = f"{node.endpoint}{path}"
    body = b"{}" if method == "POST" else b""
    scope = scope_for(method, path)
    headers = NodeAccess.from_env().headers(node.profile.node_id, url, method, body, scope)
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


# -- MEC nodes ------------------------------------------------------------------------------------


@dataclass
class ErrorServer:
    """What answers at a node's address after its process was replaced by a broken one:
    /health still looks fine, /infer answers 500 with an HTML page. Every answer closes its
    connection, so once stopped nothing of it outlives the test: a keep-alive connection in the
    caller's pool would otherwise still reach this handler's thread after the real node is back."""

    port: int
    infer_calls: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self, health: dict[str, Any]) -> None:
        owner = self

        class Broken(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, json.dumps(health).encode(), "application/json")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.infer_calls += 1
                page = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
                self._send(500, page, "text/html")

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Broken)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def freeze(node: NodeProcess) -> None:
    """SIGSTOP: the process holds its socket and accepts connections (the kernel does) but
    answers nothing: a hung node, from the client's side indistinguishable from a slow one."""
    os.kill(node.process.pid, signal.SIGSTOP)


def thaw(node: NodeProcess) -> None:
    os.kill(node.process.pid, signal.SIGCONT)


# -- AWS calls refused ----------------------------------------------------------------------------


class _RawBody:
    """The raw HTTP body botocore reads a response from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any) -> bytes:
        data, self._data = self._data, b""
        return data


def http_response(url: str, status: int, body: dict[str, Any]) -> AWSResponse:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(data))}
    return AWSResponse(url, status, headers, _RawBody(data))


@dataclass
class ThrottledTable:
    """DynamoDB refusing one table's calls with ProvisionedThroughputExceededException, at the
    HTTP layer: botocore's retries run (and give up) as they would against AWS."""

    table_name: str
    refused: Counter[str] = field(default_factory=Counter)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if json.loads(request.body or b"{}").get("TableName") != self.table_name:
            return None
        target = request.headers.get("X-Amz-Target", b"")  # "DynamoDB_20120810.PutItem"
        target = target.decode() if isinstance(target, bytes) else target
        self.refused[target.rsplit(".", 1)[-1]] += 1
        return http_response(
            request.url,
            400,
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was "
                "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            },
        )


@contextmanager
def send_intercepted(event_name: str, fault: Any) -> Iterator[None]:
    """Register `fault` on the default session, so every client created from now on (the
    adapters' cached ones are dropped) sends through it; undo both afterwards."""
    assert boto3.DEFAULT_SESSION is not None  # set up by the runtime's Lambda dispatcher
    events = boto3.DEFAULT_SESSION.events
    events.register_first(event_name, fault)
    reset_clients()
    try:
        yield
    finally:
        events.unregister(event_name, fault)
        # Clients created meanwhile carry the fault (and any retry slow-down): start afresh.
        reset_clients()


@contextmanager
def table_throttled(table_name: str, operations: tuple[str, ...]) -> Iterator[ThrottledTable]:
    fault = ThrottledTable(table_name)
    with contextlib.ExitStack() as stack:
        for operation in operations:
            stack.enter_context(send_intercepted(f"before-send.dynamodb.{operation}", fault))
        yield fault


@dataclass
class PartialPutRecords:
    """Kinesis PutRecords answering 200 with some entries refused (`FailedRecordCount`), the
    way a hot shard does. Events `refused` picks are refused on the first `calls` calls (on
    every call when None); the others are really written to the stream."""

    stream_name: str
    refused: Callable[[dict[str, Any]], bool]
    calls: int | None = None
    seen: int = 0
    refused_entries: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        batch = json.loads(request.body)
        if batch.get("StreamName") != self.stream_name:
            return None
        self.seen += 1
        failing = self.calls is None or self.seen <= self.calls
        writer = boto3.client("kinesis")  # PutRecord, not PutRecords: not intercepted
        results = []
        for entry in batch["Records"]:
            event = json.loads(base64.b64decode(entry["Data"]))
            if failing and self.refused(event):
                self.refused_entries.append(event)
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream "
                        f"{self.stream_name} under account 123456789012.",
                    }
                )
            else:
                written = writer.put_record(
                    StreamName=self.stream_name,
                    Data=base64.b64decode(entry["Data"]),
                    PartitionKey=entry["PartitionKey"],
                )
                results.append(
                    {"SequenceNumber": written["SequenceNumber"], "ShardId": written["ShardId"]}
                )
        failed = sum("ErrorCode" in result for result in results)
        return http_response(request.url, 200, {"FailedRecordCount": failed, "Records": results})


@contextmanager
def put_records_partly_refused(
    stream_name: str, refused: Callable[[dict[str, Any]], bool], calls: int | None = None
) -> Iterator[PartialPutRecords]:
    fault = PartialPutRecords(stream_name, refused, calls)
    with send_intercepted("before-send.kinesis.PutRecords", fault):
        yield fault


# -- what the pipeline left behind ----------------------------------------------------------------


def stream_events(runtime: OfflineRuntime, request_id: str) -> list[dict[str, Any]]:
    return [e for e in every_stream_event(runtime) if e.get("request_id") == request_id]


def every_stream_event(runtime: OfflineRuntime) -> list[dict[str, Any]]:
    runtime.settle()  # what RecordOutcome's asynchronous event publishes
    kinesis = client("kinesis")
    stream = runtime.names.metrics_stream
    events = []
    for shard in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            events += [json.loads(record["Data"]) for record in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return events


def decision_items(runtime: OfflineRuntime, request_id: str) -> list[dict[str, Any]]:
    """Every decisions-table item for the request (a query, not a get: duplicates would show)."""
    runtime.settle()  # what RecordOutcome's asynchronous event stores
    items: list[dict[str, Any]] = client("dynamodb").query(
        TableName=runtime.names.decisions_table,
        KeyConditionExpression="request_id = :id",
        ExpressionAttributeValues={":id": {"S": request_id}},
    )["Items"]
    return items


def dead_letter_queue(runtime: OfflineRuntime) -> SqsQueue:
    runtime.settle()  # what RecordOutcome's asynchronous event parks
    return SqsQueue(runtime.record_dead_letters_url)


def drain(queue: SqsQueue) -> list[dict[str, Any]]:
    """Read and delete every message waiting (a test's own view of the queue)."""
    bodies = []
    while messages := queue.receive(max_messages=10):
        for message in messages:
            bodies.append(message.body)
            queue.delete(message)
    return bodies
