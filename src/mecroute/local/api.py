"""The local API: the same routes, request schema and error mapping as the deployed API Gateway.

Every answer is JSON with a request id, and every bad input is a 4xx naming the field and the
problem: a body that is not JSON (or is JSON with NaN, or nested past reason), a media type
other than JSON, a length that is missing, wrong or over the limit, a body that fails the
request model. Only a request that passes the model starts an execution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoModelRegistry, DynamoNodeDirectory
from mecroute.adapters.web import (
    HttpProblem,
    Served,
    json_app,
    json_value,
    problem_body,
    request_id_of,
)
from mecroute.domain.chat import model_list
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.feedback import RequestId
from mecroute.domain.request import InferenceRequest
from mecroute.local.runtime import OfflineRuntime, Run

# API Gateway's own payload limit is 10 MB; a prompt is at most 16,000 characters, which
# even as JSON-escaped 4-byte characters stays far below this.
MAX_BODY_BYTES = 256 * 1024
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
log = logging.getLogger(__name__)

StartRun = Callable[[dict[str, Any], str], Run]


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


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


def parse_inference(raw: bytes, request_id: str) -> dict[str, Any] | Reply:
    """The request body as the pipeline receives it, or the 400 that refuses it."""
    try:
        body = json_value(raw)
    except HttpProblem as problem:
        return Reply(problem.status, problem_body(problem, request_id))
    try:
        # API Gateway validates against the schema generated from this same model.
        InferenceRequest.model_validate(body)
    except ValidationError as error:
        return invalid(request_id, "invalid request", field_problems(error))
    parsed: dict[str, Any] = body
    return parsed


def inference_reply(raw: bytes, content_type: str | None, rid: str, start: StartRun) -> Reply:
    """`POST /v1/inference` once its body is read: validate, then run the pipeline."""
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        # API Gateway's passthrough NEVER: no mapping template for this media type.
        return Reply(
            415,
            {"error": "RequestRejected", "message": "Unsupported Media Type",
             "rid": rid},
        )  # fmt: skip
    parsed = parse_inference(raw, rid)
    if isinstance(parsed, Reply):
        return parsed
    try:
        run = start(parsed, rid)
    except Exception as error:  # moto or the runtime failing is the gateway's 502, not a hang
        log.exception("execution %s could not run", rid)
        return Reply(
            502,
            {"error": "PipelineUnavailable", "message": str(error), "rid": rid},
        )
    status, body = response_for(run)
    return Reply(status, body)


def api_app(runtime: OfflineRuntime) -> Starlette:
    """The local API's routes over the offline runtime (blocking calls run on worker threads)."""
    names = runtime.names

    def start(request: dict[str, Any], rid: str) -> Run:
        return runtime.run(request, request_id=rid, trace=False)

    async def health(_: Request) -> Response:
        alive = sum(node.process.poll() is None for node in runtime.nodes)
        return JSONResponse({"status": "ok", "mec_nodes_running": alive})

    def models(_: Request) -> Response:
        listed = DynamoModelRegistry(names.models_table).list_models()
        return JSONResponse(model_list(listed))

    def nodes(_: Request) -> Response:
        listed = DynamoNodeDirectory(names.nodes_table).list_nodes()
        return JSONResponse({"nodes": [n.model_dump(mode="json") for n in listed]})

    def decision(request: Request) -> Response:
        try:
            wanted = REQUEST_ID.validate_python(request.path_params["request_id"])
        except ValidationError as error:
            problems = [
                {"field": "request_id", "problem": p["problem"]} for p in field_problems(error)
            ]
            raise HttpProblem(
                400, "InvalidRequest", "invalid request id", problems=problems
            ) from None
        record = DynamoDecisionLog(names.decisions_table).get(wanted)
        if record is None:
            raise HttpProblem(404, "NotFound", "no decision with that id")
        return JSONResponse(record.model_dump(mode="json"))

    async def inference(request: Request) -> Response:
        raw = await request.body()
        content_type = request.headers.get("content-type")
        reply = await run_in_threadpool(
            inference_reply, raw, content_type, request_id_of(request), start
        )
        return JSONResponse(reply.body, reply.status, reply.headers)

    return json_app(
        [
            Route("/health", health, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/nodes", nodes, methods=["GET"]),
            Route("/v1/decisions/{request_id:path}", decision, methods=["GET"]),
            Route("/v1/inference", inference, methods=["POST"]),
        ],
        max_body_bytes=MAX_BODY_BYTES,
    )


def serve(runtime: OfflineRuntime, port: int) -> Served:
    """The local API, not yet started. Loopback only: it has no authentication (the deployed
    one signs every call)."""
    return Served(api_app(runtime), "127.0.0.1", port)
