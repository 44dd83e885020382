"""The local API: the same routes, request schema and error mapping as the deployed API Gateway.

Every answer is JSON with a request id, and every bad input is a 4xx naming the field and the
problem: a body that is not JSON (or is JSON with NaN, or nested past reason), a media type
other than JSON, a length that is missing, wrong or over the limit, a body that fails the
request model. Only a request that passes the model starts an execution.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoModelRegistry, DynamoNodeDirectory
from mecroute.domain.chat import model_list
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.feedback import RequestId
from mecroute.domain.request import InferenceRequest
from mecroute.local.runtime import OfflineRuntime, Run

# API Gateway's own payload limit is 10 MB; a prompt is at most 16,000 characters, which
# even as JSON-escaped 4-byte characters stays far below this.
MAX_BODY_BYTES = 256 * 1024
# A client that stops sending halfway through a body cannot hold a thread forever.
READ_TIMEOUT_S = 30.0
_DECISION = re.compile(r"^/v1/decisions/([^/]*)$")
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
log = logging.getLogger(__name__)

StartRun = Callable[[dict[str, Any], str], Run]


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # The connection cannot carry another request (its body was not, or not fully, read).
    close: bool = False


def response_for(run: Run) -> tuple[int, dict[str, Any]]:
    """What API Gateway answers for a finished execution (see infra's response template)."""
    if run.status == "SUCCEEDED" and run.output is not None:
        return 200, run.output
    error = run.error or "ExecutionFailed"
    body = error_body(error, run.cause)
    body["request_id"] = run.request_id
    return HTTP_STATUS_BY_ERROR.get(error, 502), body


def invalid(request_id: str, message: str, problems: list[dict[str, str]]) -> Reply:
    body = {"error": "InvalidRequest", "message": message, "problems": problems}
    return Reply(400, {**body, "request_id": request_id})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_inference(raw: bytes, request_id: str) -> dict[str, Any] | Reply:
    """The request body as the pipeline receives it, or the 400 that refuses it."""
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        return invalid(request_id, "body is nested too deeply", [_body_problem("nested too deep")])
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, NaN, huge integers
        return invalid(request_id, f"body is not JSON: {error}", [_body_problem("not valid JSON")])
    try:
        # API Gateway validates against the schema generated from this same model.
        InferenceRequest.model_validate(body)
    except ValidationError as error:
        return invalid(request_id, "invalid request", field_problems(error))
    parsed: dict[str, Any] = body
    return parsed


def inference_reply(
    raw: bytes, content_type: str | None, request_id: str, start: StartRun
) -> Reply:
    """`POST /v1/inference` once its body is read: validate, then run the pipeline."""
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        # API Gateway's passthrough NEVER: no mapping template for this media type.
        return Reply(
            415,
            {"error": "RequestRejected", "message": "Unsupported Media Type",
             "request_id": request_id},
        )  # fmt: skip
    parsed = parse_inference(raw, request_id)
    if isinstance(parsed, Reply):
        return parsed
    try:
        run = start(parsed, request_id)
    except Exception as error:  # moto or the runtime failing is the gateway's 502, not a hang
        log.exception("execution %s could not run", request_id)
        return Reply(
            502,
            {"error": "PipelineUnavailable", "message": str(error), "request_id": request_id},
        )
    status, body = response_for(run)
    return Reply(status, body)


def _length(declared: str) -> int | None:
    """A Content-Length is ASCII digits only (int() would also take "+1", " 1" or "1_000")."""
    value = declared.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _body_problem(problem: str) -> dict[str, str]:
    return {"field": "(body)", "problem": problem}


def make_handler(runtime: OfflineRuntime) -> type[BaseHTTPRequestHandler]:
    names = runtime.names

    def start(request: dict[str, Any], request_id: str) -> Run:
        return runtime.run(request, request_id=request_id, trace=False)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mecroute-local"
        timeout = READ_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, reply: Reply) -> None:
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _reply(self, status: int, body: dict[str, Any], **headers: str) -> None:
            self._send(Reply(status, {**body, "request_id": str(uuid.uuid4())}, headers))

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                alive = sum(node.process.poll() is None for node in runtime.nodes)
                self._send(Reply(200, {"status": "ok", "mec_nodes_running": alive}))
            elif path == "/v1/models":
                models = DynamoModelRegistry(names.models_table).list_models()
                self._send(Reply(200, model_list(models)))
            elif path == "/v1/nodes":
                nodes = DynamoNodeDirectory(names.nodes_table).list_nodes()
                self._send(Reply(200, {"nodes": [n.model_dump(mode="json") for n in nodes]}))
            elif match := _DECISION.match(path):
                self._decision(match.group(1))
            else:
                self._reply(404, {"error": "NotFound", "message": f"no route GET {path}"})

        def _decision(self, request_id: str) -> None:
            try:
                REQUEST_ID.validate_python(request_id)
            except ValidationError as error:
                problems = [
                    {"field": "request_id", "problem": p["problem"]} for p in field_problems(error)
                ]
                self._send(invalid(str(uuid.uuid4()), "invalid request id", problems))
                return
            record = DynamoDecisionLog(names.decisions_table).get(request_id)
            if record is None:
                self._reply(404, {"error": "NotFound", "message": "no decision with that id"})
            else:
                self._send(Reply(200, record.model_dump(mode="json")))

        def do_POST(self) -> None:
            request_id = str(uuid.uuid4())
            if self.path.split("?", 1)[0] != "/v1/inference":
                self._drain_or_close()
                self._reply(404, {"error": "NotFound", "message": f"no route POST {self.path}"})
                return
            raw = self._read_body(request_id)
            if isinstance(raw, Reply):
                self._send(raw)
                return
            self._send(inference_reply(raw, self.headers.get("Content-Type"), request_id, start))

        def _read_body(self, request_id: str) -> bytes | Reply:
            """The body, or the 4xx that refuses it (and closes the connection, whose bytes
            could otherwise be read as the next request)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return Reply(411, {"error": "LengthRequired", "request_id": request_id,
                                   "message": "send Content-Length, not a chunked body"},
                             close=True)  # fmt: skip
            declared = self.headers.get("Content-Length")
            length = _length(declared) if declared is not None else 0
            if length is None:
                return Reply(400, {"error": "InvalidRequest", "request_id": request_id,
                                   "message": f"Content-Length {declared!r} is not a length"},
                             close=True)  # fmt: skip
            if length > MAX_BODY_BYTES:
                return Reply(413, {"error": "PayloadTooLarge", "request_id": request_id,
                                   "message": f"over {MAX_BODY_BYTES} bytes"},
                             close=True)  # fmt: skip
            return self.rfile.read(length)

        def _drain_or_close(self) -> None:
            """Skip the body of a request this API will refuse, if it is small enough."""
            length = _length(self.headers.get("Content-Length", "0"))
            if length is not None and length <= MAX_BODY_BYTES:
                self.rfile.read(length)
            else:
                self.close_connection = True

        def _method_not_allowed(self) -> None:
            self._drain_or_close()
            self._reply(
                405,
                {"error": "MethodNotAllowed", "message": f"{self.command} is not served here"},
                Allow="GET, POST",
            )

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

        def do_HEAD(self) -> None:
            self.send_response(405)
            self.send_header("Allow", "GET, POST")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def serve(runtime: OfflineRuntime, port: int) -> ThreadingHTTPServer:
    # Loopback only: the local API has no authentication (the deployed one signs every call).
    server = LocalApiServer(("127.0.0.1", port), make_handler(runtime))
    server.daemon_threads = True
    return server


class LocalApiServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 resets connections when many clients connect at
    # once (the load benchmark's 32 did).
    request_queue_size = 128
