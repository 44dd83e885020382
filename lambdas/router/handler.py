"""Router agent Lambda: RouteRequest state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mecroute.agents import router as agent
from mecroute.domain.request import CriterionWeights
from mecroute.domain.tasks import RouteRequestTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import RouterSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = RouterSettings.from_env()
default_weights = CriterionWeights(
    latency=settings.weight_latency,
    accuracy=settings.weight_accuracy,
    cost=settings.weight_cost,
    availability=settings.weight_availability,
)


@lambda_handler(RouteRequestTask)
def handler(task: RouteRequestTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.context.request_id)
    decision = agent.route(task.context, task.resources, default_weights)
    logger.info("routed", extra={"reason": decision.reason, "confidence": decision.confidence})
    if decision.primary is None:
        metrics.add_metric(name="NoFeasibleRoute", unit="Count", value=1)
    return decision.model_dump(mode="json")
