"""The local API: the same routes, request schema and error mapping as the deployed API Gateway.

Every answer is JSON with a request id, and every bad input is a 4xx naming the field and the
problem: a body that is not JSON (or is JSON with NaN, or nested past reason), a media type
other than JSON, a length that is missing, wrong or over the limit, a body that fails the
request model. Only a request that passes the model starts an execution.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.chat_http import Identify, chat_completions_route
from mecroute.adapters.web import (
    HttpProblem,
    Served,
    json_app,
    json_value,
    problem_body,
    request_id_of,
)
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.identity import Caller, with_caller
from mecroute.domain.request import InferenceRequest
from mecroute.gateway.auth import ApiKeys, authenticate
from mecroute.lambda_support.manifest import BY_NAME
from mecroute.local.lambdas import FUNCTION_PREFIX, FakeLambdaContext, load_handler
from mecroute.local.runtime import OfflineRuntime, Run

# API Gateway's own payload limit is 10 MB; a prompt is at most 16,000 characters, which
# even as JSON-escaped 4-byte characters stays far below this.
MAX_BODY_BYTES = 256 * 1024
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
             "request_id": rid},
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
            {"error": "PipelineUnavailable", "message": str(error), "request_id": rid},
        )
    status, body = response_for(run)
    return Reply(status, body)


def api_app(
    runtime: OfflineRuntime,
    gateways: Mapping[str, str] | None = None,
    keys: ApiKeys | None = None,
) -> Starlette:
    """The local API's routes over the offline runtime (blocking calls run on worker threads):
    inference through the pipeline, the others through their own Lambda handlers. With `keys`
    (the edge gateways' API key items) every route but /health wants a key, and a request runs
    as the user it names, as a signed call runs as its principal on the regional API."""
    known = keys or ApiKeys()

    def identify(headers: Mapping[str, str]) -> str | None:
        return authenticate(headers, known.read())

    reads = ProxiedHandler("api_reads", identify)
    feedback = ProxiedHandler("feedback", identify)

    def start(request: dict[str, Any], rid: str) -> Run:
        return runtime.run(request, request_id=rid, trace=False)

    async def sites(request: Request) -> Response:
        identify(request.headers)
        by_site: dict[str, list[str]] = {}
        for node in runtime.nodes:
            by_site.setdefault(node.profile.site, []).append(node.profile.node_id)
        listed = [
            {"site": site, "nodes": ids, "gateway_url": (gateways or {}).get(site)}
            for site, ids in sorted(by_site.items())
        ]
        return JSONResponse({"sites": listed})

    async def health(_: Request) -> Response:
        alive = sum(node.process.poll() is None for node in runtime.nodes)
        return JSONResponse({"status": "ok", "mec_nodes_running": alive})

    async def inference(request: Request) -> Response:
        # API Gateway's $context.requestTimeEpoch: the request's time counts from here.
        arrived_at_ms = int(time.time() * 1000)
        caller = Caller(user_id=identify(request.headers))
        raw = await request.body()
        content_type = request.headers.get("content-type")

        def start_arrived(body: dict[str, Any], rid: str) -> Run:
            # As API Gateway's template: the body wrapped with the caller it runs as.
            pipeline_request = with_caller(body, caller)
            return runtime.run(pipeline_request, rid, trace=False, arrived_at_ms=arrived_at_ms)

        reply = await run_in_threadpool(
            inference_reply, raw, content_type, request_id_of(request), start_arrived
        )
        return JSONResponse(reply.body, reply.status, reply.headers)

    return json_app(
        [
            Route("/health", health, methods=["GET"]),
            Route("/v1/sites", sites, methods=["GET"]),
            Route("/v1/stats", reads.route("/v1/stats"), methods=["GET"]),
            Route("/v1/models", reads.route("/v1/models"), methods=["GET"]),
            Route("/v1/nodes", reads.route("/v1/nodes"), methods=["GET"]),
            Route("/v1/usage", reads.route("/v1/usage"), methods=["GET"]),
            Route(
                "/v1/decisions/{request_id}",
                reads.route("/v1/decisions/{request_id}"),
                methods=["GET"],
            ),
            Route("/v1/feedback", feedback.route("/v1/feedback"), methods=["POST"]),
            Route("/v1/inference", inference, methods=["POST"]),
            chat_completions_route(
                lambda request, rid: response_for(start(request, rid)), identify
            ),
        ],
        max_body_bytes=MAX_BODY_BYTES,
    )


class ProxiedHandler:
    """A route answered by a real Lambda handler (lambdas/<name>/handler.py), as API Gateway's
    proxy integration would call it, with the verified caller as the authorizer's principal.
    Loaded once the runtime has set the tables' variables."""

    def __init__(self, name: str, identify: Identify) -> None:
        self.name = name
        self.identify = identify
        self.handler = load_handler(BY_NAME[name].source.parent, name)
        # A Lambda runs one event at a time; its resolver keeps the current event on itself.
        self._one_at_a_time = threading.Lock()

    def route(self, resource: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            user = self.identify(request.headers)
            event = proxy_event(request, await request.body(), resource, user)
            return await run_in_threadpool(self._call, event)

        return endpoint

    def _call(self, event: dict[str, Any]) -> Response:
        context = FakeLambdaContext(function_name=f"{FUNCTION_PREFIX}{self.name}")
        with self._one_at_a_time:
            result = self.handler(event, context)
        # API Gateway merges both header maps (powertools answers in `multiValueHeaders`).
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(v) for v in values)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        body = str(result.get("body") or "")
        if result.get("isBase64Encoded"):
            return Response(base64.b64decode(body), int(result["statusCode"]), headers)
        return Response(body, int(result["statusCode"]), headers)


def proxy_event(
    request: Request, body: bytes, resource: str, user: str | None = None
) -> dict[str, Any]:
    """The API Gateway REST proxy event for `request` (the shape the handlers' resolver reads);
    a verified `user` is the authorizer's principal (mecroute.domain.identity)."""
    rid = request_id_of(request)
    headers = dict(request.headers)
    query = dict(request.query_params)
    multi_query = {k: request.query_params.getlist(k) for k in request.query_params}
    return {
        "resource": resource,
        "path": request.url.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(request.path_params) or None,
        "stageVariables": None,
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": request.url.path,
            "stage": "local",
            "requestId": rid,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.client.host if request.client else "127.0.0.1"},
            **({"authorizer": {"principalId": user}} if user else {}),
        },
    }


def serve(
    runtime: OfflineRuntime,
    port: int,
    gateways: Mapping[str, str] | None = None,
    keys: ApiKeys | None = None,
) -> Served:
    """The local API, not yet started, on loopback. Without `keys` its callers are anonymous
    (each request's own user_id stands), as at a site whose gateway knows no keys."""
    return Served(api_app(runtime, gateways, keys), "127.0.0.1", port)
