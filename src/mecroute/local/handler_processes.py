"""Running the real Lambda handlers offline: loading one, invoking it as Lambda reports an
invocation, and running them in worker processes (`HandlerProcesses`), so that they do not
share one GIL with the Step Functions interpreter. Each worker loads the handlers the manifest
names and runs many invocations at once on threads (a handler mostly waits on DynamoDB or a
node), as Lambda runs many instances of a function at once.

Events and answers cross the pipe as the JSON bytes Lambda's Invoke carries, so the parent
neither parses nor encodes them. A worker that dies fails its pending invocations as Lambda
reports a runtime that exited (`Runtime.ExitError`), never leaves them waiting.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import logging
import socket
import subprocess
import sys
import threading
import traceback
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

FUNCTION_PREFIX = "mecroute-"
# Invocations one worker runs at once (threads are made as they are needed).
THREADS_PER_WORKER = 16
# A closing worker finishes the invocations it has; then it is ended.
CLOSE_TIMEOUT_S = 10.0
log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_handler(lambdas_dir: Path, agent: str) -> Handler:
    """Import lambdas/<agent>/handler.py under a unique module name (the dirs share a file name)."""
    path = lambdas_dir / agent / "handler.py"
    spec = importlib.util.spec_from_file_location(f"mecroute_lambda_{agent}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


def quieten(verbose: bool) -> None:
    """What the offline runtime logs: moto's and botocore's chatter and failed handlers' stack
    traces only when verbose."""
    # One Metrics object serves every in-process handler; in Lambda each has its own.
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")
    level = logging.DEBUG if verbose else logging.CRITICAL
    for name in ("moto", "werkzeug", "botocore", "mecroute.local.lambdas", __name__):
        logging.getLogger(name).setLevel(level)


@dataclass(frozen=True)
class Invoked:
    """A handler's answer as Lambda reports it: the payload's JSON bytes, and whether the
    function failed (the payload is then {"errorType", "errorMessage"})."""

    payload: bytes
    failed: bool


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def run_handler(handler: Handler, name: str, event: bytes) -> Invoked:
    """One invocation of a handler in this process, reported as Lambda reports it: a raised
    exception becomes `FunctionError` with its class name as `errorType`."""
    try:
        payload = handler(json.loads(event), FakeLambdaContext(function_name=name))
    except Exception as error:
        log.debug("handler %s raised: %s", name, traceback.format_exc())
        return Invoked(error_payload(type(error).__name__, str(error)), True)
    return Invoked(json.dumps(payload).encode(), False)


@dataclass
class _Worker:
    name: str
    process: subprocess.Popen[bytes]
    connection: Connection
    pending: dict[int, Future[Invoked]] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)


class HandlerProcesses:
    """`count` worker processes serving `functions` (agent names), each started as
    `python -m mecroute.local.handler_processes` (a clean interpreter: this process runs
    servers on threads, which a fork would copy mid-call) with this environment, talking over
    a socket pair; a worker whose parent is gone reads the end of it and exits."""

    def __init__(self, functions: tuple[str, ...], count: int, verbose: bool = False) -> None:
        self.functions = functions
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        for index in range(count):
            ours, theirs = socket.socketpair()
            command = [sys.executable, "-m", __name__, str(theirs.fileno()), ",".join(functions)]
            process = subprocess.Popen(  # noqa: S603 - our own module  # nosec B603
                [*command, *(["--verbose"] if verbose else [])], pass_fds=(theirs.fileno(),)
            )
            theirs.close()
            worker = _Worker(f"handlers-{index}", process, Connection(ours.detach()))
            self._workers.append(worker)
            threading.Thread(
                target=self._read, args=(worker,), name=worker.name, daemon=True
            ).start()

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    def invoke(self, agent: str, event: bytes) -> Invoked:
        """Run `agent`'s handler on the least busy worker and wait for its answer."""
        future: Future[Invoked] = Future()
        with self._lock:
            worker = min(self._workers, key=lambda w: len(w.pending))
            call_id = next(self._ids)
            worker.pending[call_id] = future
        try:
            with worker.send_lock:
                worker.connection.send((call_id, agent, event))
        except (OSError, ValueError) as error:  # the worker is gone
            self._fail(worker, f"worker {worker.name} unreachable: {error}")
        return future.result()

    def close(self) -> None:
        for worker in self._workers:
            try:
                with worker.send_lock:
                    worker.connection.send(None)  # finish what is running, then exit
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            try:
                worker.process.wait(CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.connection.close()

    def _read(self, worker: _Worker) -> None:
        try:
            while True:
                call_id, payload, failed = worker.connection.recv()
                with self._lock:
                    future = worker.pending.pop(call_id)
                future.set_result(Invoked(payload, failed))
        except (EOFError, OSError):
            self._fail(worker, f"worker {worker.name} exited")

    def _fail(self, worker: _Worker, reason: str) -> None:
        with self._lock:
            pending, worker.pending = worker.pending, {}
        for future in pending.values():
            future.set_result(Invoked(error_payload("Runtime.ExitError", reason), True))


def serve(connection: Connection, functions: tuple[str, ...], verbose: bool) -> None:
    """A worker: load the handlers, then answer (id, agent, event) calls until None."""
    from mecroute.lambda_support.manifest import BY_NAME

    quieten(verbose)
    handlers = {name: load_handler(BY_NAME[name].source.parent, name) for name in functions}
    send_lock = threading.Lock()

    def run(call_id: int, agent: str, event: bytes) -> None:
        invoked = run_handler(handlers[agent], FUNCTION_PREFIX + agent, event)
        with send_lock:
            connection.send((call_id, invoked.payload, invoked.failed))

    # EOF: the parent is gone, nobody waits for answers; the pool finishes what it runs.
    with (
        ThreadPoolExecutor(THREADS_PER_WORKER, thread_name_prefix="handler") as pool,
        contextlib.suppress(EOFError),
    ):
        while (call := connection.recv()) is not None:
            pool.submit(run, *call)


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), tuple(sys.argv[2].split(",")), "--verbose" in sys.argv)
