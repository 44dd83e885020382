"""Context agent Lambda: AnalyzeContext state."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.resilience import BestEffortHistory
from mecroute.agents import context as agent
from mecroute.complexity.model import shipped
from mecroute.domain.tasks import AnalyzeContextTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.observability import logger
from mecroute.lambda_support.settings import ContextSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = ContextSettings.from_env()
history = BestEffortHistory(DynamoDecisionLog(settings.decisions_table))
complexity_model = shipped()  # loaded once per container


@lambda_handler(AnalyzeContextTask)
def handler(task: AnalyzeContextTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.request_id)
    analysis = agent.analyze(task.request_id, task.request, history, time.time(), complexity_model)
    return analysis.model_dump(mode="json")
