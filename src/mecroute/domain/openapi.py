"""The API's OpenAPI 3.1 document, generated from the same pydantic models that validate requests
in the Lambdas and the local API (and that API Gateway's request models come from).

`python -m mecroute.domain.openapi` writes docs/openapi.json; `--check` fails when the file is
out of date with the models. The fuzz tests generate their requests from this document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mecroute.domain.breaker import BreakerView
from mecroute.domain.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatErrorBody,
)
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR
from mecroute.domain.feedback import Feedback, FeedbackReceipt
from mecroute.domain.messages import LearnedStatistics, MonitorRecord
from mecroute.domain.registry import ModelSpec, NodeRecord, Tier
from mecroute.domain.request import IDENTIFIER_PATTERN, InferenceRequest
from mecroute.domain.spend import Usage

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class Problem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Dotted path of the bad field, `(body)` for the whole body.")
    problem: str


class ErrorBody(BaseModel):
    """Every error the API answers, from API Gateway or from the pipeline."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="A named error: InvalidRequest, NoFeasibleRoute, ...")
    message: str | None = None
    problems: list[Problem] | None = Field(
        default=None, description="For InvalidRequest: each bad field and its problem."
    )
    request_id: str


class ModelCard(BaseModel):
    id: str = Field(description="A registry model id, or `auto` (the router chooses).")
    object: Literal["model"]
    created: int
    owned_by: str
    tiers: list[Tier]


class ModelList(BaseModel):
    """OpenAI's model list (`object`, `data`) with the registry's records beside it."""

    object: Literal["list"]
    data: list[ModelCard]
    models: list[ModelSpec]


class NodeList(BaseModel):
    nodes: list[NodeRecord]
    breakers: list[BreakerView]


_SCHEMAS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (InferenceRequest, "validation"),
    (ChatCompletionRequest, "validation"),
    (ChatCompletion, "serialization"),
    (ChatCompletionChunk, "serialization"),
    (ChatErrorBody, "serialization"),
    (Feedback, "validation"),
    (MonitorRecord, "serialization"),
    (FeedbackReceipt, "serialization"),
    (ModelList, "serialization"),
    (NodeList, "serialization"),
    (Usage, "serialization"),
    (LearnedStatistics, "serialization"),
    (ErrorBody, "serialization"),
]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(ErrorBody))}


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _statuses() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for error, status in sorted(HTTP_STATUS_BY_ERROR.items()):
        by_status.setdefault(status, []).append(error)
    return by_status


def document() -> dict[str, Any]:
    _, definitions = models_json_schema(_SCHEMAS, ref_template="#/components/schemas/{model}")
    inference_errors = {
        str(status): _error(f"The execution failed with {' or '.join(errors)}.")
        for status, errors in _statuses().items()
    }
    inference_errors["400"] = _error(
        "InvalidRequest: the body is not JSON or fails the request model; every bad field is "
        "named in `problems`."
    )
    inference_errors["415"] = _error("The body is not `application/json`.")
    inference_errors["429"] = _error(
        "TooManyRequests (or QuotaExceeded): over the caller's request limit (an API key's "
        "usage plan, an edge gateway's bucket) or the stage's, named in `message`; "
        "`Retry-After` says when to retry."
    )
    inference_errors["502"] = _error("The pipeline failed for a reason it does not name.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mecroute",
            "version": "1",
            "description": (
                "Routes AI inference requests across device, MEC and cloud tiers. Generated "
                "from the pydantic models in mecroute.domain by `python -m "
                "mecroute.domain.openapi`; do not edit by hand."
            ),
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "The deployed API (SigV4, or an API key with api_auth=api_key)",
                "variables": {
                    "api_id": {"default": "api-id"},
                    "region": {"default": "eu-west-1"},
                    "stage": {"default": "dev"},
                },
            },
            {"url": "http://127.0.0.1:8080", "description": "`mecroute serve` (loopback only)"},
        ],
        # Either scheme: API Gateway's IAM authorisation (SigV4, the default) or an API key
        # (`api_auth=api_key` in CDK context, the edge gateways, `mecroute serve --api-keys`).
        "security": [{"sigv4": []}, {"apiKey": []}],
        "paths": {
            "/v1/inference": {
                "post": {
                    "operationId": "infer",
                    "summary": "Route one request to a tier, run it, answer with the decision.",
                    "requestBody": {"required": True, "content": _json(_ref(InferenceRequest))},
                    "responses": {
                        "200": {
                            "description": "Served: the decision record.",
                            "content": _json(_ref(MonitorRecord)),
                        },
                        **dict(sorted(inference_errors.items())),
                    },
                }
            },
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "summary": "OpenAI-compatible: route the conversation, run it, answer with "
                    "the text; the decision in `x-mecroute-*` headers and the `mecroute` field.",
                    "requestBody": {
                        "required": True,
                        "content": _json(_ref(ChatCompletionRequest)),
                    },
                    "responses": {
                        "200": {
                            "description": "The completion; with `stream: true` (offline and at "
                            "the edge gateway; the regional API answers 400) server-sent events "
                            "of chunks ending `data: [DONE]`.",
                            "headers": {
                                name: {"schema": {"type": "string"}}
                                for name in (
                                    "x-mecroute-tier",
                                    "x-mecroute-node",
                                    "x-mecroute-model",
                                    "x-mecroute-request-id",
                                )
                            },
                            "content": {
                                **_json(_ref(ChatCompletion)),
                                "text/event-stream": {"schema": _ref(ChatCompletionChunk)},
                            },
                        },
                        **{
                            status: {
                                "description": f"As `POST /v1/inference` answers {status}, in "
                                "OpenAI's error shape.",
                                "content": _json(_ref(ChatErrorBody)),
                            }
                            for status in sorted(inference_errors)
                        },
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "summary": "The model registry: OpenAI's list (`auto` first) and the records.",
                    "responses": {
                        "200": {"description": "Every model.", "content": _json(_ref(ModelList))}
                    },
                }
            },
            "/v1/nodes": {
                "get": {
                    "operationId": "listNodes",
                    "summary": "The MEC nodes as they last reported themselves, and every "
                    "circuit breaker (per place) with its state, reason and cooldown.",
                    "responses": {
                        "200": {"description": "Every node.", "content": _json(_ref(NodeList))}
                    },
                }
            },
            "/v1/usage": {
                "get": {
                    "operationId": "getUsage",
                    "summary": "The caller's spend today and this month (UTC), each against its "
                    "budget, and when each resets.",
                    "parameters": [
                        {
                            "name": "user_id",
                            "in": "query",
                            "required": False,
                            "description": "Only where callers are not verified (a local API or "
                            "site without API keys): a verified caller sees its own usage.",
                            "schema": {"type": "string", "pattern": IDENTIFIER_PATTERN},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The usage.", "content": _json(_ref(Usage))},
                        "400": _error("InvalidRequest: not a user id."),
                    },
                }
            },
            "/v1/stats": {
                "get": {
                    "operationId": "listStats",
                    "summary": "What the learning loop has learned per tier, node and model "
                    "(samples, latency EWMA and p95, success rate, answer quality) and the "
                    "regional routing path's overhead.",
                    "responses": {
                        "200": {
                            "description": "The learned statistics.",
                            "content": _json(_ref(LearnedStatistics)),
                        }
                    },
                }
            },
            "/v1/decisions/{request_id}": {
                "get": {
                    "operationId": "getDecision",
                    "summary": "The decision record of one request, for the caller who sent it "
                    "(another caller's id is answered as a missing one).",
                    "parameters": [
                        {
                            "name": "request_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The record.",
                            "content": _json(_ref(MonitorRecord)),
                        },
                        "400": _error("InvalidRequest: not a request id."),
                        "404": _error("NotFound: no decision with that id of this caller's."),
                    },
                }
            },
            "/v1/feedback": {
                "post": {
                    "operationId": "giveFeedback",
                    "summary": "The caller's verdict on an answer (a repeat: the first receipt).",
                    "requestBody": {"required": True, "content": _json(_ref(Feedback))},
                    "responses": {
                        "202": {
                            "description": "Accepted.",
                            "content": _json(_ref(FeedbackReceipt)),
                        },
                        "400": _error("InvalidRequest: every bad field is named."),
                        "404": _error("NotFound: no decision with that id for that user."),
                    },
                }
            },
        },
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (API Gateway IAM authorisation).",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
                "apiKey": {
                    "type": "apiKey",
                    "name": "x-api-key",
                    "in": "header",
                    "description": (
                        "An API key: the deployed API with `api_auth=api_key` (its usage plan "
                        "limits each key), an edge gateway, or `mecroute serve --api-keys FILE`. "
                        "The gateways also take it as `Authorization: Bearer <key>`."
                    ),
                },
            },
        },
    }


def rendered() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mecroute.domain.openapi", description=__doc__)
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    parser.add_argument("--check", action="store_true", help="fail if --out is out of date")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
