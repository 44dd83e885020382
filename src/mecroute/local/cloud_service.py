"""The offline cloud tier as a service of its own: Bedrock's Converse route
(`POST /model/{modelId}/converse`) answered by the simulator (adapters/cloud.LocalBedrockRuntime)
on 127.0.0.1, as `python -m mecroute.local.cloud_service --port P`.

Bedrock answers from AWS, not from the caller's process: an edge gateway offline reaches this
service through a real `bedrock-runtime` client (the deployed code path, adapters/cloud.converse),
so the simulated model's inference CPU is this process's, never the gateway's. Errors come back
as Bedrock's do (`x-amzn-ErrorType`, `{"message"}`), so botocore raises the same ClientError.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mecroute.adapters.cloud import LocalBedrockRuntime, Throttle
from mecroute.adapters.dynamodb import DynamoModelRegistry
from mecroute.adapters.onnx_engine import TIER_THREADS
from mecroute.adapters.recent import RecentRegistry
from mecroute.adapters.streams import S3ArtifactStore
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.adapters.web import Served, invalid_body, json_app
from mecroute.lambda_support.settings import AgentSettings
from mecroute.local.fleet import end_process, free_port, wait_listening

MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


class CloudSimulatorSettings(AgentSettings):
    """The region's model registry and artifact bucket (MODELS_TABLE, ARTIFACTS_BUCKET)."""

    models_table: str
    artifacts_bucket: str
    cloud_sim_requests_per_s: float | None = None


class ConverseBody(BaseModel):
    """The part of Converse's request body the simulator reads (botocore sends more)."""

    model_config = ConfigDict(extra="ignore")

    messages: list[dict[str, Any]]
    inferenceConfig: dict[str, Any] = {}  # Bedrock's field name


def cloud_app(runtime: LocalBedrockRuntime) -> Starlette:
    def converse(request: Request, body: bytes) -> Response:
        try:
            call = ConverseBody.model_validate_json(body)
        except ValueError as error:
            raise invalid_body("not a Converse request", str(error)) from None
        try:
            answer = runtime.converse(
                modelId=request.path_params["model_id"],
                messages=call.messages,
                inferenceConfig=call.inferenceConfig,
            )
        except ClientError as error:
            return _bedrock_error(error)
        return Response(json.dumps(answer), 200, media_type=JSON)

    async def route(request: Request) -> Response:
        body = await request.body()
        # The simulated model runs onnxruntime: off the loop, on the app's worker threads.
        return await run_in_threadpool(converse, request, body)

    return json_app(
        [Route("/model/{model_id:path}/converse", route, methods=["POST"])],
        max_body_bytes=MAX_BODY_BYTES,
    )


def _bedrock_error(error: ClientError) -> Response:
    """The error as Bedrock sends it: its code in `x-amzn-ErrorType`, its text in `message`."""
    details = error.response.get("Error", {})
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    return Response(
        json.dumps({"message": details.get("Message", "")}),
        status,
        headers={"x-amzn-ErrorType": str(details.get("Code", "ValidationException"))},
        media_type=JSON,
    )


def runtime_from_env() -> LocalBedrockRuntime:
    settings = CloudSimulatorSettings.from_env()
    artifacts = S3ArtifactStore(settings.artifacts_bucket)
    rate = settings.cloud_sim_requests_per_s
    return LocalBedrockRuntime(
        RecentRegistry(DynamoModelRegistry(settings.models_table)),
        VerifiedModels(artifacts, threads=TIER_THREADS["cloud"]),
        throttle=None if rate is None else Throttle.per_second(rate),
    )


@dataclass
class CloudSimulatorProcess:
    """This module as a child process on `env` (the runtime's: moto's endpoint, the tables)."""

    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self) -> CloudSimulatorProcess:
        command = [sys.executable, "-m", "mecroute.local.cloud_service", "--port", str(free_port())]
        self.process = subprocess.Popen(  # noqa: S603 - our own module  # nosec B603
            command, env=self.env, stdout=subprocess.PIPE, text=True
        )
        try:
            self.url = wait_listening(self.process, "cloud simulator")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is not None:
            end_process(self.process, signal.SIGTERM, timeout_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mecroute cloud-simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLOUD_SIM_PORT", "8070")))
    args = parser.parse_args(argv)
    runtime = runtime_from_env()
    runtime.preload()  # listening means ready: no caller's deadline pays for a model's load
    served = Served(cloud_app(runtime), "127.0.0.1", args.port).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"listening": served.url}), flush=True)
    stop.wait()
    served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
