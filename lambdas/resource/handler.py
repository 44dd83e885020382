"""Resource agent Lambda: AssessResources state."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.adapters.dynamodb import DynamoModelRegistry, DynamoNodeDirectory, DynamoStatsStore
from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.recent import RecentNodes, RecentOverhead, RecentRegistry, RecentStats
from mecroute.adapters.spend_ledger import DynamoSpendLedger
from mecroute.agents import resource as agent
from mecroute.agents.breakers import Breakers
from mecroute.agents.spend import Spend
from mecroute.domain.messages import CloudStatus
from mecroute.domain.spend import load_tenants
from mecroute.domain.tasks import AssessResourcesTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import ResourceSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = ResourceSettings.from_env()
registry = RecentRegistry(DynamoModelRegistry(settings.models_table))
# Node records change when a node registers or heartbeats; the live load comes from probing
# each node, so a 5 s old list of them spares a Scan per request.
directory = RecentNodes(DynamoNodeDirectory(settings.nodes_table))
stats_table = DynamoStatsStore(settings.stats_table)
stats = RecentStats(stats_table)
learned_overhead = RecentOverhead(stats_table, "regional")
nodes = HttpMecNodes(access=settings.node_access())
breakers = Breakers(DynamoBreakerStore(settings.breakers_table), settings.breaker_policy())
spend = Spend(DynamoSpendLedger(settings.usage_table), load_tenants())
cloud = CloudStatus(
    available=True,
    provider=settings.cloud_provider,
    region=settings.cloud_region,
    backhaul_rtt_ms=settings.cloud_backhaul_ms,
)


@lambda_handler(AssessResourcesTask)
def handler(task: AssessResourcesTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.context.request_id)
    snapshot = agent.assess(
        registry,
        directory,
        nodes,
        stats,
        cloud,
        time.time(),
        settings.heartbeat_timeout_s,
        learned_overhead=learned_overhead(),
        breakers=breakers.not_closed(),
        caller_budget=spend.caller_budget(task.context.request.user_id),
    )
    healthy = sum(node.healthy for node in snapshot.nodes)
    metrics.add_metric(name="HealthyMecNodes", unit="Count", value=healthy)
    metrics.add_metric(name="BreakersNotClosed", unit="Count", value=len(snapshot.breakers))
    return snapshot.model_dump(mode="json")
