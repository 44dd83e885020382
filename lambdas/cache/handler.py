"""Cache agent Lambda: PrepareModel state."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mecroute.adapters.dynamodb import (
    DynamoModelRegistry,
    DynamoNodeDirectory,
    DynamoResponseCache,
    DynamoStatsStore,
)
from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.recent import RecentNodes, RecentRegistry, RecentStats
from mecroute.agents import cache as agent
from mecroute.domain.tasks import PrepareModelTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import CacheSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = CacheSettings.from_env()
registry = RecentRegistry(DynamoModelRegistry(settings.models_table))
responses = DynamoResponseCache(settings.cache_table)
nodes = HttpMecNodes(access=settings.node_access())
directory = RecentNodes(DynamoNodeDirectory(settings.nodes_table))
stats = RecentStats(DynamoStatsStore(settings.stats_table))


@lambda_handler(PrepareModelTask)
def handler(task: PrepareModelTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.context.request_id)
    plan = agent.prepare(
        task.context, task.target, registry, nodes, responses, time.time(), directory, stats
    )
    metrics.add_metric(name=f"Cache_{plan.action}", unit="Count", value=1)
    return plan.model_dump(mode="json")
