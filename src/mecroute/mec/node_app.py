"""The MEC node's HTTP API as a Starlette app over a NodeService (types in domain/node_protocol.py).

Routes: POST /infer, GET /health, POST /models/{model_id}/load, DELETE /models/{model_id}, and
the OpenAI protocol's POST /v1/chat/completions and GET /v1/models (mec/openai_routes.py); each
answers only a request signed with the site's key for its scope (domain/node_auth.py). GET /livez
answers anyone `{"status": "ok"}` and nothing more: the container's health check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.web import (
    HttpProblem,
    json_app,
    json_object,
    problem_response,
    request_id_of,
    while_connected,
)
from mecroute.domain.errors import ModelIntegrityError, field_problems
from mecroute.domain.node_auth import AuthRefused, NodeVerifier
from mecroute.domain.node_protocol import (
    MODEL_ID_PATTERN,
    EvictAnswer,
    HealthAnswer,
    InferAnswer,
    InferRequest,
    LoadAnswer,
    LoadRequest,
    NodeErrorCode,
)
from mecroute.mec.capacity import Saturated
from mecroute.mec.openai_routes import openai_routes
from mecroute.mec.resident import InsufficientMemory, ModelNotLoaded
from mecroute.mec.service import ArtifactUnavailable, NodeService, UnknownModel

MAX_BODY_BYTES = 1024 * 1024
_R = TypeVar("_R", bound=BaseModel)
_MODEL_ID = re.compile(MODEL_ID_PATTERN)
# What each service exception answers: status and the protocol's error code.
_REFUSALS: dict[type[Exception], tuple[int, NodeErrorCode]] = {
    ModelNotLoaded: (404, NodeErrorCode.MODEL_NOT_LOADED),
    UnknownModel: (404, NodeErrorCode.UNKNOWN_MODEL),
    ModelIntegrityError: (422, NodeErrorCode.MODEL_INTEGRITY),
    InsufficientMemory: (507, NodeErrorCode.INSUFFICIENT_MEMORY),
    ArtifactUnavailable: (502, NodeErrorCode.ARTIFACT_UNAVAILABLE),
}


Endpoint = Callable[[Request], Awaitable[Response]]


def node_app(service: NodeService, verifier: NodeVerifier) -> Starlette:
    async def live(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def health(_: Request) -> Response:
        return _reply(service, HealthAnswer.model_validate(service.health()))

    async def infer(request: Request) -> Response:
        body = _parse(InferRequest, await request.body())
        answer = await while_connected(
            request,
            lambda gone: service.infer(
                body.model_id,
                body.prompt,
                body.output_tokens,
                body.emulate_network,
                body.max_tokens,
                gone,
            ),
            service.slots.wake,
        )
        if answer is None:
            return Response(status_code=499)  # nobody is left to read it
        return _reply(service, InferAnswer.model_validate(answer))

    async def load(request: Request) -> Response:
        model_id = _model_id(request)
        body = _parse(LoadRequest, await request.body())
        answer = await anyio.to_thread.run_sync(
            service.load, model_id, body.artifact_key, body.sha256
        )
        return _reply(service, LoadAnswer.model_validate(answer))

    async def evict(request: Request) -> Response:
        model_id = _model_id(request)
        if not service.evict(model_id):
            raise ModelNotLoaded(model_id)
        return _reply(service, EvictAnswer(model_id=model_id, evicted=True))

    async def refused(request: Request, error: Exception) -> Response:
        status, code = next(v for cls, v in _REFUSALS.items() if isinstance(error, cls))
        message = str(error.args[0]) if error.args else str(error)
        problem = HttpProblem(status, code, message, close=service.draining)
        return problem_response(problem, request_id_of(request))

    async def saturated(request: Request, error: Exception) -> Response:
        assert isinstance(error, Saturated)
        problem = HttpProblem(
            429,
            NodeErrorCode.SATURATED,
            str(error),
            headers={"Retry-After": str(error.retry_after_s)},
            close=service.draining,
        )
        return problem_response(problem, request_id_of(request))

    def signed(endpoint: Endpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            body = await request.body()
            try:
                verifier.verify(request.method, path, headers, body, time.time())
            except AuthRefused as refused:
                problem = HttpProblem(refused.status, refused.error, refused.message)
                return problem_response(problem, request_id_of(request))
            return await endpoint(request)

        return checked

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/infer", infer, methods=["POST"]),
        Route("/models/{model_id}/load", load, methods=["POST"]),
        Route("/models/{model_id}", evict, methods=["DELETE"]),
        *openai_routes(service),
    ]
    return json_app(
        [
            Route("/livez", live, methods=["GET"]),
            *(Route(r.path, signed(r.endpoint), methods=r.methods) for r in routes),
        ],
        max_body_bytes=MAX_BODY_BYTES,
        exception_handlers={
            **dict.fromkeys(_REFUSALS, refused),
            Saturated: saturated,
        },
    )


def _parse(model: type[_R], raw: bytes) -> _R:
    try:
        return model.model_validate(json_object(raw))
    except ValidationError as error:
        raise HttpProblem(
            400,
            NodeErrorCode.INVALID_REQUEST,
            f"invalid {model.__name__}",
            problems=field_problems(error),
        ) from None


def _model_id(request: Request) -> str:
    model_id = str(request.path_params["model_id"])
    if not _MODEL_ID.match(model_id):
        raise HttpProblem(404, NodeErrorCode.NOT_FOUND, f"no route {request.method} {request.url}")
    return model_id


def _reply(service: NodeService, answer: BaseModel) -> Response:
    # A draining node tells each caller to take its next request elsewhere.
    headers = {"Connection": "close"} if service.draining else None
    return JSONResponse(answer.model_dump(mode="json"), headers=headers)
