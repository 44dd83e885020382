"""Runs the real Lambda handlers in-process when the state machine invokes them.

moto would run Lambda code in Docker; instead a botocore `before-call` hook answers
`lambda:Invoke` with the handler's result, shaped exactly as AWS shapes it, including
`FunctionError: Unhandled` with the exception's class name as `errorType` so the ASL's
Retry and Catch match the same error names they match in AWS.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import sys
import traceback
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from mecroute.lambda_support.manifest import AGENTS, BY_NAME

FUNCTION_PREFIX = "mecroute-"
log = logging.getLogger(__name__)
__all__ = [
    "AGENTS",
    "FakeLambdaContext",
    "Handler",
    "InProcessLambdas",
    "function_arn",
    "load_handler",
]

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_handler(lambdas_dir: Path, agent: str) -> Handler:
    """Import lambdas/<agent>/handler.py under a unique module name (the dirs share a file name)."""
    path = lambdas_dir / agent / "handler.py"
    spec = importlib.util.spec_from_file_location(f"mecroute_lambda_{agent}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


def function_arn(agent: str, region: str, account: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{FUNCTION_PREFIX}{agent}"


class InProcessLambdas:
    """Dispatches Lambda Invoke calls made through boto3's default session to real handlers."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.invocations: list[tuple[str, bool]] = []

    @classmethod
    def from_manifest(cls, functions: tuple[str, ...] = AGENTS) -> InProcessLambdas:
        """The handlers the agent manifest names (the six pipeline agents by default)."""
        return cls({name: load_handler(BY_NAME[name].source.parent, name) for name in functions})

    def install(self) -> None:
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._on_invoke)

    def invoke(self, name: str, event: dict[str, Any]) -> tuple[dict[str, Any] | Any, bool]:
        """Returns (payload, failed) exactly as Lambda would report them."""
        agent = name.removeprefix(FUNCTION_PREFIX)
        handler = self.handlers.get(agent)
        if handler is None:
            return {"errorType": "ResourceNotFoundException", "errorMessage": name}, True
        try:
            payload = handler(event, FakeLambdaContext(function_name=name))
        except Exception as error:
            log.debug("handler %s raised: %s", name, traceback.format_exc())
            self.invocations.append((agent, False))
            return {"errorType": type(error).__name__, "errorMessage": str(error)}, True
        self.invocations.append((agent, True))
        return payload, False

    def _on_invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        path = urllib.parse.unquote(params["url_path"])
        name = path.split("/functions/")[1].split("/")[0].rsplit(":function:", 1)[-1]
        event = json.loads(params.get("body") or b"{}")
        payload, failed = self.invoke(name, event)
        body = json.dumps(payload).encode()
        parsed: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": StreamingBody(io.BytesIO(body), len(body)),
        }
        if failed:
            parsed["FunctionError"] = "Unhandled"
        return AWSResponse(params.get("url", ""), 200, {}, None), parsed
