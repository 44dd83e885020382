"""Execute agent Lambda: Execute state."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from mecroute.adapters.aws import client
from mecroute.adapters.cloud import BedrockCloud, CloudSimulator, Throttle
from mecroute.adapters.dynamodb import DynamoModelRegistry, DynamoResponseCache
from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.ports import CloudModel
from mecroute.adapters.streams import S3ArtifactStore
from mecroute.agents import execute as agent
from mecroute.domain.tasks import ExecuteTask
from mecroute.mec.engine import TIER_THREADS
from mecroute.mec.loader import VerifiedModels
from mecroute.runtime.observability import logger, metrics, tracer
from mecroute.runtime.settings import ExecuteSettings

settings = ExecuteSettings.from_env()
registry = DynamoModelRegistry(settings.models_table)
artifacts = S3ArtifactStore(settings.artifacts_bucket)
local_models = VerifiedModels(artifacts, threads=TIER_THREADS["device"])
cloud: CloudModel = (
    BedrockCloud(client("bedrock-runtime"), settings.bedrock_model_id)
    if settings.cloud_provider == "bedrock"
    else CloudSimulator(
        registry,
        VerifiedModels(artifacts, threads=TIER_THREADS["cloud"]),
        throttle=(
            None
            if settings.cloud_sim_requests_per_s is None
            else Throttle.per_second(settings.cloud_sim_requests_per_s)
        ),
    )
)
tiers = agent.Tiers(
    registry=registry,
    nodes=HttpMecNodes(),
    cloud=cloud,
    local_models=local_models,
    responses=DynamoResponseCache(settings.cache_table),
    cloud_backhaul_ms=settings.cloud_backhaul_ms,
    response_ttl_s=settings.response_ttl_s,
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=ExecuteTask)
def handler(task: ExecuteTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.context.request_id, target=task.target.label)
    result = agent.execute(task.context, task.target, task.plan, tiers, time.time())
    return result.model_dump(mode="json")
