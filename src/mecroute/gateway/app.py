"""The gateway's HTTP API: the regional API's routes, schemas and errors at the MEC site
(POST /v1/inference, GET /health, GET /v1/decisions/{request_id}) and OpenAI's
POST /v1/chat/completions, streaming included (mecroute.adapters.chat_http)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
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
from mecroute.gateway.shipper import Shipper

MAX_BODY_BYTES = 256 * 1024  # as the regional API (mecroute.local.api)
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
STALE_HEADER = "x-mecroute-snapshot-stale"


def gateway_app(
    site: str,
    pipeline: GatewayPipeline,
    shipper: Shipper,
    threads: int = 8,
    limits: CallerLimits | None = None,
) -> Starlette:
    # The pipeline blocks (node calls, the queue's commit) and is mostly Python under one GIL:
    # a few threads keep the cores busy; more only queue for the GIL and stretch every answer.
    limiter = CapacityLimiter(threads)

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
        user = identify(request.headers)
        media_type = request.headers.get("content-type", "application/json")
        if media_type.split(";", 1)[0].strip().lower() != "application/json":
            raise HttpProblem(415, "RequestRejected", "Unsupported Media Type")
        # The request runs as the verified caller, whatever its body's user_id says.
        body = with_caller(json_value(await request.body()), Caller(user_id=user))
        status, answer, outcome = await anyio.to_thread.run_sync(
            run, body, rid, arrived_at, limiter=limiter
        )
        return JSONResponse(answer, status, outcome_headers(outcome))

    def run(
        body: Any, rid: str, arrived_at: float | None = None
    ) -> tuple[int, dict[str, Any], Outcome]:
        """What the regional API answers for this pipeline input, and the outcome behind it."""
        try:
            outcome = pipeline.handle(rid, body, arrived_at)
        except QueueFull as full:
            raise HttpProblem(503, "RecordQueueFull", str(full)) from None
        if outcome.error is None and outcome.record is not None:
            return 200, outcome.record.model_dump(mode="json"), outcome
        error = outcome.error or "ExecutionFailed"
        answer = error_body(error, outcome.cause)
        answer["request_id"] = rid
        return HTTP_STATUS_BY_ERROR.get(error, 502), answer, outcome

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
            chat_completions_route(lambda body, rid: run(body, rid)[:2], identify),
        ],
        max_body_bytes=MAX_BODY_BYTES,
    )


def outcome_headers(outcome: Outcome) -> dict[str, str]:
    """`Server-Timing: execute;dur=ms`: the tiers' share of the answer's time (what is left is
    the gateway's own); and whether it was decided on a stale snapshot."""
    headers = {"server-timing": f"execute;dur={outcome.execute_ms:.3f}"}
    if outcome.stale:
        headers[STALE_HEADER] = "true"
    return headers
