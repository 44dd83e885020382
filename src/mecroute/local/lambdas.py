"""Runs the real Lambda handlers in-process when the state machine invokes them.

moto would run Lambda code in Docker; instead a botocore `before-call` hook answers
`lambda:Invoke` with the handler's result, shaped exactly as AWS shapes it, including
`FunctionError: Unhandled` with the exception's class name as `errorType` so the ASL's
Retry and Catch match the same error names they match in AWS.

With `HandlerProcesses`, the handlers run in worker processes instead (`mecroute serve`
and the bench: the interpreter then has this process's GIL to itself); in-process they can be
wrapped, which is how the reliability tests inject faults.

An `InvocationType: Event` call is answered 202 at once and its handler runs on a worker
thread, as Lambda's asynchronous invocation does: retried on error as the function's
event-invoke config says, then delivered to its on-failure queue in Lambda's destination
record shape (or dropped, logged, when it has none, as Lambda drops it).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from mecroute.adapters.queues import SqsQueue
from mecroute.lambda_support.manifest import AGENTS, BY_NAME, EventInvoke
from mecroute.local.handler_processes import (
    FUNCTION_PREFIX,
    FakeLambdaContext,
    Handler,
    HandlerProcesses,
    Invoked,
    error_payload,
    load_handler,
    run_handler,
)
from mecroute.local.moto_patches import invoke_functions_directly, stop_invoking_directly

# Lambda waits about one, then two minutes between an event's attempts; offline, this much
# (doubling), so a test sees the retries and the dead letter within a second.
EVENT_RETRY_PAUSE_S = 0.05
EVENT_WORKERS = 4
log = logging.getLogger(__name__)
__all__ = [
    "AGENTS",
    "FUNCTION_PREFIX",
    "FakeLambdaContext",
    "Handler",
    "InProcessLambdas",
    "function_arn",
    "load_handler",
]


def function_arn(agent: str, region: str, account: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{FUNCTION_PREFIX}{agent}"


@dataclass(frozen=True)
class AsyncTarget:
    """A function's event-invoke config offline: the manifest's retries and age, and the URL
    of its on-failure queue."""

    config: EventInvoke
    on_failure_url: str | None = None


class InProcessLambdas:
    """Dispatches Lambda Invoke calls made through boto3's default session to real handlers:
    `handlers` in this process, or, when `processes` is given, the same functions in workers."""

    def __init__(
        self, handlers: dict[str, Handler], processes: HandlerProcesses | None = None
    ) -> None:
        self.handlers = handlers
        self.processes = processes
        self.invocations: list[tuple[str, bool]] = []
        self.async_targets: dict[str, AsyncTarget] = {}
        self._events = ThreadPoolExecutor(EVENT_WORKERS, thread_name_prefix="lambda-event")
        self._events_pending = 0
        self._settled = threading.Condition()

    @classmethod
    def from_manifest(cls, functions: tuple[str, ...] = AGENTS) -> InProcessLambdas:
        """The handlers the agent manifest names (the six pipeline agents by default)."""
        return cls({name: load_handler(BY_NAME[name].source.parent, name) for name in functions})

    @classmethod
    def in_workers(
        cls, count: int, functions: tuple[str, ...] = AGENTS, verbose: bool = False
    ) -> InProcessLambdas:
        """The same handlers, run by `count` worker processes (started with this environment)."""
        return cls({}, HandlerProcesses(functions, count, verbose))

    def install(self) -> None:
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._on_invoke)
        invoke_functions_directly(self.answer)

    def answer(self, function: str, event: bytes, asynchronous: bool) -> tuple[int, bytes, bool]:
        """Lambda's answer to an Invoke of `function` (a name or ARN): (status, payload,
        failed); an asynchronous one is accepted (202) and runs off the caller's path."""
        if asynchronous:
            self.invoke_event(function, event)
            return 202, b"", False
        invoked = self.invoke(function.rsplit(":function:", 1)[-1], event)
        return 200, invoked.payload, invoked.failed

    def invoke(self, name: str, event: bytes) -> Invoked:
        """Run function `name` on the JSON `event`, reporting what Lambda would report."""
        agent = name.removeprefix(FUNCTION_PREFIX)
        if self.processes is not None and agent in self.processes.functions:
            invoked = self.processes.invoke(agent, event)
        elif (handler := self.handlers.get(agent)) is not None:
            invoked = run_handler(handler, name, event)
        else:
            return Invoked(error_payload("ResourceNotFoundException", name), True)
        self.invocations.append((agent, not invoked.failed))
        return invoked

    def invoke_event(self, function: str, event: bytes) -> None:
        """Accept an asynchronous event: it runs on a worker thread, off the caller's path."""
        with self._settled:
            self._events_pending += 1
        self._events.submit(self._run_event, function, event, time.monotonic())

    def settle(self, timeout_s: float = 30) -> None:
        """Wait until every accepted event has run (retries and dead letters included)."""
        with self._settled:
            if not self._settled.wait_for(lambda: self._events_pending == 0, timeout_s):
                pending = self._events_pending
                raise TimeoutError(f"{pending} events still running after {timeout_s}s")

    def close(self) -> None:
        stop_invoking_directly(self.answer)
        self._events.shutdown(wait=True, cancel_futures=False)
        if self.processes is not None:
            self.processes.close()

    def _run_event(self, function: str, event: bytes, accepted: float) -> None:
        try:
            self._deliver(function, event, accepted)
        except Exception:  # a worker must not die silently: Lambda would log it too
            log.exception("asynchronous event for %s lost", function)
        finally:
            with self._settled:
                self._events_pending -= 1
                self._settled.notify_all()

    def _deliver(self, function: str, event: bytes, accepted: float) -> None:
        name = function.rsplit(":function:", 1)[-1]
        target = self.async_targets.get(name.removeprefix(FUNCTION_PREFIX))
        retries = target.config.retry_attempts if target else 2
        attempts, condition = 0, "RetriesExhausted"
        while True:
            invoked = self.invoke(name, event)
            attempts += 1
            if not invoked.failed:
                return
            if attempts > retries:
                break
            time.sleep(EVENT_RETRY_PAUSE_S * 2 ** (attempts - 1))
            if target and time.monotonic() - accepted > target.config.max_event_age_s:
                condition = "EventAgeExceeded"
                break
        if target is None or target.on_failure_url is None:
            log.error("asynchronous event for %s dropped after %d attempts", name, attempts)
            return
        SqsQueue(target.on_failure_url).send(
            destination_record(
                function, json.loads(event), json.loads(invoked.payload), condition, attempts
            )
        )

    def _on_invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        path = urllib.parse.unquote(params["url_path"])
        function = path.split("/functions/")[1].split("/")[0]
        body = params.get("body") or b"{}"
        event = body.encode() if isinstance(body, str) else bytes(body)
        asynchronous = params.get("headers", {}).get("X-Amz-Invocation-Type") == "Event"
        status, payload, failed = self.answer(function, event, asynchronous)
        return _response(params, status, payload, failed=failed)


def _response(
    params: dict[str, Any], status: int, body: bytes, *, failed: bool
) -> tuple[AWSResponse, dict[str, Any]]:
    parsed: dict[str, Any] = {
        "StatusCode": status,
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(io.BytesIO(body), len(body)),
    }
    if failed:
        parsed["FunctionError"] = "Unhandled"
    return AWSResponse(params.get("url", ""), status, {}, None), parsed


def destination_record(
    function: str, event: dict[str, Any], error: Any, condition: str, attempts: int
) -> dict[str, Any]:
    """What Lambda sends an on-failure destination for an event it gave up on."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": error,
    }
