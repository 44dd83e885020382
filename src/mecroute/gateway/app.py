"""The gateway's HTTP API: the regional API's routes, schemas and errors at the MEC site
(POST /v1/inference, GET /health, GET /v1/decisions/{request_id}) and OpenAI's
POST /v1/chat/completions, streaming included (mecroute.adapters.chat_http)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.chat_http import chat_completions_route
from mecroute.adapters.web import HttpProblem, json_app, json_value, request_id_of
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.feedback import RequestId
from mecroute.gateway.auth import authenticate
from mecroute.gateway.pipeline import GatewayPipeline
from mecroute.gateway.queue import QueueFull
from mecroute.gateway.shipper import Shipper

MAX_BODY_BYTES = 256 * 1024  # as the regional API (mecroute.local.api)
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
STALE_HEADER = "x-mecroute-snapshot-stale"


def gateway_app(site: str, pipeline: GatewayPipeline, shipper: Shipper) -> Starlette:
    async def health(_: Request) -> Response:
        snapshot = pipeline.keeper.current
        return JSONResponse(
            {
                "status": "ok",
                "site": site,
                "snapshot_age_s": round(time.time() - snapshot.resources.taken_at, 3),
                "region_read_age_s": round(time.time() - snapshot.region_read_at, 3),
                "stale": snapshot.stale,
                "queue_depth": pipeline.queue.depth(),
                "records_shipped": shipper.shipped,
                "shipping_error": shipper.last_error,
                "breakers": [v.model_dump(mode="json") for v in pipeline.breakers.views()],
            }
        )

    async def inference(request: Request) -> Response:
        arrived_at = time.time()
        rid = request_id_of(request)
        user = authenticate(request.headers, pipeline.keeper.current.api_keys)
        media_type = request.headers.get("content-type", "application/json")
        if media_type.split(";", 1)[0].strip().lower() != "application/json":
            raise HttpProblem(415, "RequestRejected", "Unsupported Media Type")
        body = json_value(await request.body())
        if isinstance(body, dict) and user is not None:
            body = {**body, "user_id": user}  # the verified identity, not what the body claims
        status, answer, stale = await run_in_threadpool(run, body, rid, arrived_at)
        headers = {STALE_HEADER: "true"} if stale else {}
        return JSONResponse(answer, status, headers)

    def run(
        body: Any, rid: str, arrived_at: float | None = None
    ) -> tuple[int, dict[str, Any], bool]:
        """What the regional API answers for this pipeline input, and whether decided stale."""
        try:
            outcome = pipeline.handle(rid, body, arrived_at)
        except QueueFull as full:
            raise HttpProblem(503, "RecordQueueFull", str(full)) from None
        if outcome.error is None and outcome.record is not None:
            return 200, outcome.record.model_dump(mode="json"), outcome.stale
        error = outcome.error or "ExecutionFailed"
        answer = error_body(error, outcome.cause)
        answer["request_id"] = rid
        return HTTP_STATUS_BY_ERROR.get(error, 502), answer, outcome.stale

    def identify(headers: Mapping[str, str]) -> str | None:
        return authenticate(headers, pipeline.keeper.current.api_keys)

    async def decision(request: Request) -> Response:
        try:
            wanted = REQUEST_ID.validate_python(request.path_params["request_id"])
        except ValidationError as error:
            problems = [
                {"field": "request_id", "problem": p["problem"]} for p in field_problems(error)
            ]
            raise HttpProblem(
                400, "InvalidRequest", "invalid request id", problems=problems
            ) from None
        record = pipeline.recent.get(wanted)
        if record is None:
            raise HttpProblem(404, "NotFound", "no decision with that id at this site")
        return JSONResponse(record.model_dump(mode="json"))

    return json_app(
        [
            Route("/health", health, methods=["GET"]),
            Route("/v1/inference", inference, methods=["POST"]),
            Route("/v1/decisions/{request_id}", decision, methods=["GET"]),
            chat_completions_route(lambda body, rid: run(body, rid)[:2], identify),
        ],
        max_body_bytes=MAX_BODY_BYTES,
    )
