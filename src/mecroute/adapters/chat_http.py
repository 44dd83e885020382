"""OpenAI's `POST /v1/chat/completions` for every mecroute HTTP service that runs the pipeline
(the local API, the edge gateway)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mecroute.adapters.web import HttpProblem, json_value, problem_body, request_id_of
from mecroute.domain.chat import (
    completion_chunks,
    completion_from_record,
    openai_error,
    pipeline_request,
    server_sent_events,
    to_inference_request,
)
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.identity import Caller, caller_field
from mecroute.domain.messages import MonitorRecord

# (the pipeline's input, the request id) -> (HTTP status, the API's own answer body): what
# `POST /v1/inference` would answer for the same pipeline input.
RunPipeline = Callable[[dict[str, Any], str], tuple[int, dict[str, Any]]]
# The caller's verified user id from the request headers (None: anonymous), or an HttpProblem.
Identify = Callable[[Mapping[str, str]], str | None]
log = logging.getLogger(__name__)


def chat_completions_route(run: RunPipeline, identify: Identify | None = None) -> Route:
    """`POST /v1/chat/completions` over `run`; `identify` (the API keys) names the caller from
    the request's headers, whom the request then runs as (mecroute.domain.identity: the body's
    `user` is ignored). `GET /v1/models`
    answers mecroute.domain.chat.model_list wherever the registry is read (api_reads)."""

    async def completions(request: Request) -> Response:
        rid = request_id_of(request)
        try:
            user = identify(request.headers) if identify is not None else None
            status, answer, stream, include_usage = await _complete(request, rid, run, user)
        except HttpProblem as problem:
            return _error(problem.status, problem_body(problem, rid), rid, problem.headers)
        if status != 200:
            return _error(status, answer, rid)
        completion = completion_from_record(MonitorRecord.model_validate(answer), int(time.time()))
        headers = completion.decision_headers()
        if stream:
            events = server_sent_events(completion_chunks(completion, include_usage))
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        return JSONResponse(completion.model_dump(mode="json"), headers=headers)

    return Route("/v1/chat/completions", completions, methods=["POST"])


async def _complete(
    request: Request, rid: str, run: RunPipeline, user: str | None
) -> tuple[int, dict[str, Any], bool, bool]:
    """Validate (a bad field never starts an execution), then run the pipeline on a worker."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media_type.lower() != "application/json":
        raise HttpProblem(415, "RequestRejected", "Unsupported Media Type")
    body = json_value(await request.body())
    try:
        chat, _ = to_inference_request(body, request.headers)
    except InvalidRequest as invalid:
        raise HttpProblem(
            400, "InvalidRequest", "invalid request", problems=invalid.problems
        ) from None
    try:
        envelope = {**pipeline_request(body, request.headers), **caller_field(Caller(user_id=user))}
        status, answer = await run_in_threadpool(run, envelope, rid)
    except HttpProblem:
        raise
    except Exception as error:  # moto or the runtime failing is a 502, not a hang
        log.exception("chat completion %s could not run", rid)
        raise HttpProblem(502, "PipelineUnavailable", str(error)) from None
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    return status, answer, chat.stream, include_usage


def _error(
    status: int, answer: dict[str, Any], rid: str, headers: Mapping[str, str] | None = None
) -> Response:
    """OpenAI's error shape; `headers` (a 429's Retry-After) pass through."""
    body = openai_error(status, {**answer, "request_id": answer.get("request_id") or rid})
    headers = {**(headers or {}), "x-mecroute-request-id": body.request_id or rid}
    return JSONResponse(body.model_dump(mode="json"), status, headers)
