"""The built-in MEC node speaking the OpenAI protocol (`POST /v1/chat/completions`,
`GET /v1/models`), as vLLM, llama.cpp, Ollama and TGI do: what a node entry that points at
your own model server expects, served by the simulator."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.web import HttpProblem, json_value, request_id_of, while_connected
from mecroute.domain.chat import (
    AssistantMessage,
    ChatCompletion,
    Choice,
    Usage,
    parse_chat_request,
)
from mecroute.domain.errors import InvalidRequest
from mecroute.domain.request import DEFAULT_MAX_TOKENS
from mecroute.mec.service import NodeService


def openai_routes(service: NodeService) -> list[Route]:
    async def completions(request: Request) -> Response:
        try:
            chat = parse_chat_request(json_value(await request.body()))
        except InvalidRequest as invalid:
            raise HttpProblem(
                400, "InvalidRequest", "invalid request", problems=invalid.problems
            ) from None
        if chat.stream:
            raise HttpProblem(400, "InvalidRequest", "this node answers whole completions")
        max_tokens = chat.max_completion_tokens or chat.max_tokens or DEFAULT_MAX_TOKENS
        # The caller (the execute agent) models the network itself: none is emulated here.
        answer = await while_connected(
            request,
            lambda gone: service.infer(chat.model, chat.prompt(), 0, False, max_tokens, gone),
            service.slots.wake,
        )
        if answer is None:
            return Response(status_code=499)  # nobody is left to read it
        completion = ChatCompletion(
            id=f"chatcmpl-{request_id_of(request)}",
            created=int(time.time()),
            model=chat.model,
            choices=[
                Choice(
                    message=AssistantMessage(content=answer["output"]),
                    finish_reason=answer["finish_reason"],
                )
            ],
            usage=Usage(
                prompt_tokens=answer["input_tokens"],
                completion_tokens=answer["output_tokens"],
                total_tokens=answer["input_tokens"] + answer["output_tokens"],
            ),
        )
        return JSONResponse(completion.model_dump(mode="json", exclude={"mecroute"}))

    async def models(_: Request) -> Response:
        owner = service.profile.node_id
        cards = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": owner}
            for model_id in service.models.ids()
        ]
        return JSONResponse({"object": "list", "data": cards})

    return [
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
