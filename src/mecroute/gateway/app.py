"""The gateway's HTTP API: the regional API's routes, schemas and errors at the MEC site
(POST /v1/inference, GET /health, GET /v1/decisions/{request_id}) and OpenAI's
POST /v1/chat/completions, streaming included (mecroute.adapters.chat_http)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.chat_http import chat_completions_route
from mecroute.adapters.web import HttpProblem, json_app, json_value, request_id_of
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, error_body, field_problems
from mecroute.domain.feedback import RequestId
from mecroute.domain.identity import Caller, with_caller
from mecroute.gateway.auth import authenticate
from mecroute.gateway.limits import CallerLimits
from mecroute.gateway.pipeline import GatewayPipeline, Outcome
from mecroute.gateway.queue import QueueFull

MAX_BODY_BYTES = 256 * 1024  # as the regional API (mecroute.local.api)
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
STALE_HEADER = "x-mecroute-snapshot-stale"
JSON = "application/json"


def gateway_app(
    site: str,
    pipeline: GatewayPipeline,
    executor: Executor,
    limits: CallerLimits | None = None,
) -> Starlette:
    """`executor` runs the pipeline, which blocks (node calls, the queue's commit): a plain
    pool handed the call straight from the loop, without anyio's limiter and task tracking."""

    async def health(_: Request) -> Response:
        snapshot = pipeline.keeper.current
        queue = pipeline.queue.tally()
        return JSONResponse(
            {
                "status": "ok",
                "site": site,
                "snapshot_age_s": round(time.time() - snapshot.resources.taken_at, 3),
                "region_read_age_s": round(time.time() - snapshot.region_read_at, 3),
                "stale": snapshot.stale,
                "queue_depth": queue.depth,
                "records_shipped": queue.shipped,
                "shipping_error": queue.last_error,
                "breakers": [v.model_dump(mode="json") for v in pipeline.breakers.views()],
            }
        )

    async def inference(request: Request) -> Response:
        arrived_at = time.time()
        rid = request_id_of(request)
        user = identify(request.headers)
        media_type = request.headers.get("content-type", "application/json")
        if media_type.split(";", 1)[0].strip().lower() != "application/json":
            raise HttpProblem(415, "RequestRejected", "Unsupported Media Type")
        # The request runs as the verified caller, whatever its body's user_id says.
        body = with_caller(json_value(await request.body()), Caller(user_id=user))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, answered, body, rid, arrived_at)

    def answered(body: Any, rid: str, arrived_at: float) -> Response:
        """The answer, encoded once (pydantic's own encoder for a record), off the loop."""
        outcome = handled(body, rid, arrived_at)
        headers = outcome_headers(outcome)
        if outcome.error is None and outcome.record is not None:
            return Response(outcome.record.model_dump_json(), 200, headers, JSON)
        status, answer = failure(outcome, rid)
        return Response(json.dumps(answer), status, headers, JSON)

    def run(body: Any, rid: str) -> tuple[int, dict[str, Any]]:
        """What the regional API answers for this pipeline input (the chat route's call)."""
        outcome = handled(body, rid, None)
        if outcome.error is None and outcome.record is not None:
            return 200, outcome.record.model_dump(mode="json")
        return failure(outcome, rid)

    def handled(body: Any, rid: str, arrived_at: float | None) -> Outcome:
        try:
            return pipeline.handle(rid, body, arrived_at)
        except QueueFull as full:
            raise HttpProblem(503, "RecordQueueFull", str(full)) from None

    def identify(headers: Mapping[str, str]) -> str | None:
        """The verified caller, admitted by its token bucket (401/403, or 429 naming the limit)."""
        user = authenticate(headers, pipeline.keeper.current.api_keys)
        return limits.admit(user) if limits is not None else user

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
        caller = identify(request.headers)
        # Another caller's decision answers exactly as a missing one.
        if record is None or (caller is not None and record.user_id != caller):
            raise HttpProblem(404, "NotFound", "no decision with that id at this site")
        return JSONResponse(record.model_dump(mode="json"))

    return json_app(
        [
            Route("/health", health, methods=["GET"]),
            Route("/v1/inference", inference, methods=["POST"]),
            Route("/v1/decisions/{request_id}", decision, methods=["GET"]),
            chat_completions_route(run, identify),
        ],
        max_body_bytes=MAX_BODY_BYTES,
    )


def failure(outcome: Outcome, rid: str) -> tuple[int, dict[str, Any]]:
    """The regional API's status and body for an outcome that is not an answer."""
    error = outcome.error or "ExecutionFailed"
    answer = error_body(error, outcome.cause)
    answer["request_id"] = rid
    return HTTP_STATUS_BY_ERROR.get(error, 502), answer


def outcome_headers(outcome: Outcome) -> dict[str, str]:
    """`Server-Timing: execute;dur=ms`: the tiers' share of the answer's time (what is left is
    the gateway's own); and whether it was decided on a stale snapshot."""
    headers = {"server-timing": f"execute;dur={outcome.execute_ms:.3f}"}
    if outcome.stale:
        headers[STALE_HEADER] = "true"
    return headers
