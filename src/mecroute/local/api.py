"""The local API: the same routes, request schema and error mapping as the deployed API Gateway."""

from __future__ import annotations

import json
import re
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoModelRegistry, DynamoNodeDirectory
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.request import InferenceRequest
from mecroute.local.runtime import OfflineRuntime, Run

MAX_BODY_BYTES = 256 * 1024
_DECISION = re.compile(r"^/v1/decisions/([A-Za-z0-9._:-]{1,128})$")


def response_for(run: Run) -> tuple[int, dict[str, Any]]:
    """What API Gateway answers for a finished execution (see infra's response template)."""
    if run.status == "SUCCEEDED" and run.output is not None:
        return 200, run.output
    error = run.error or "ExecutionFailed"
    body = error_body(error, run.cause)
    body["request_id"] = run.request_id
    return HTTP_STATUS_BY_ERROR.get(error, 502), body


def make_handler(runtime: OfflineRuntime) -> type[BaseHTTPRequestHandler]:
    names = runtime.names

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mecroute-local"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                alive = sum(node.process.poll() is None for node in runtime.nodes)
                self._reply(200, {"status": "ok", "mec_nodes_running": alive})
            elif path == "/v1/models":
                models = DynamoModelRegistry(names.models_table).list_models()
                self._reply(200, {"models": [m.model_dump(mode="json") for m in models]})
            elif path == "/v1/nodes":
                nodes = DynamoNodeDirectory(names.nodes_table).list_nodes()
                self._reply(200, {"nodes": [n.model_dump(mode="json") for n in nodes]})
            elif match := _DECISION.match(path):
                record = DynamoDecisionLog(names.decisions_table).get(match.group(1))
                if record is None:
                    self._reply(404, {"error": "NotFound", "message": "no decision with that id"})
                else:
                    self._reply(200, record.model_dump(mode="json"))
            else:
                self._reply(404, {"error": "NotFound", "message": f"no route GET {path}"})

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/v1/inference":
                self._reply(404, {"error": "NotFound", "message": f"no route POST {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(
                    413, {"error": "PayloadTooLarge", "message": f"over {MAX_BODY_BYTES} bytes"}
                )
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                self._reply(
                    400,
                    {
                        "error": "InvalidRequest",
                        "message": f"body is not JSON: {error}",
                        "problems": [{"field": "(body)", "problem": "not valid JSON"}],
                    },
                )
                return
            try:
                # API Gateway validates against the schema generated from this same model.
                InferenceRequest.model_validate(body)
            except ValidationError as error:
                self._reply(
                    400,
                    {
                        "error": "InvalidRequest",
                        "message": "invalid request",
                        "problems": field_problems(error),
                    },
                )
                return
            run = runtime.run(body, request_id=str(uuid.uuid4()))
            self._reply(*response_for(run))

    return Handler


def serve(runtime: OfflineRuntime, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(runtime))
    server.daemon_threads = True
    return server
