"""Execute agent Lambda: Execute state.

A request carrying an `idempotency_key` runs at most once per (user, key): a repeat gets the
stored result (powertools idempotency on DynamoDB), a repeat arriving while the first is still
running raises IdempotencyAlreadyInProgressError, which the state machine retries with backoff
until the stored result is there, or DeadlineExceeded once the repeat's own deadline passed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from mecroute.adapters.aws import BEDROCK_CONFIG, client
from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.adapters.cloud import BedrockCloud, CloudSimulator, LocalBedrockRuntime, Throttle
from mecroute.adapters.dynamodb import DynamoModelRegistry, DynamoResponseCache
from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.ports import CloudModel
from mecroute.adapters.recent import RecentRegistry
from mecroute.adapters.spend_ledger import DynamoSpendLedger
from mecroute.adapters.streams import S3ArtifactStore
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.agents import execute as agent
from mecroute.agents.breakers import Breakers
from mecroute.agents.guards import Guards, guarded_execute
from mecroute.agents.spend import Spend
from mecroute.domain.breaker import Breaker
from mecroute.domain.errors import DeadlineExceeded, IdempotencyKeyReused
from mecroute.domain.estimates import TIER_THREADS
from mecroute.domain.messages import ExecutionResult
from mecroute.domain.spend import load_tenants
from mecroute.domain.tasks import ExecuteTask
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.idempotency import Once
from mecroute.lambda_support.observability import logger, metrics
from mecroute.lambda_support.settings import ExecuteSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = ExecuteSettings.from_env()
registry = RecentRegistry(DynamoModelRegistry(settings.models_table))
artifacts = S3ArtifactStore(settings.artifacts_bucket)
local_models = VerifiedModels(artifacts, threads=TIER_THREADS["device"])
cloud: CloudModel = (
    BedrockCloud(client("bedrock-runtime", BEDROCK_CONFIG), settings.bedrock_model_id)
    if settings.cloud_provider == "bedrock"
    else CloudSimulator(
        LocalBedrockRuntime(
            registry,
            VerifiedModels(artifacts, threads=TIER_THREADS["cloud"]),
            throttle=(
                None
                if settings.cloud_sim_requests_per_s is None
                else Throttle.per_second(settings.cloud_sim_requests_per_s)
            ),
        )
    )
)
tiers = agent.Tiers(
    registry=registry,
    nodes=HttpMecNodes(access=settings.node_access()),
    cloud=cloud,
    local_models=local_models,
    responses=DynamoResponseCache(settings.cache_table),
    cloud_backhaul_ms=settings.cloud_backhaul_ms,
    response_ttl_s=settings.response_ttl_s,
    deadline_grace_s=settings.deadline_grace_ms / 1000,
)


def breaker_changed(breaker: Breaker) -> None:
    """Each transition is a metric (BreakerOpen, BreakerHalfOpen, BreakerClosed) and a log line."""
    name = "Breaker" + breaker.state.title().replace("_", "")
    metrics.add_metric(name=name, unit="Count", value=1)
    logger.warning("breaker %s %s: %s", breaker.breaker_key, breaker.state, breaker.reason)


guards = Guards(
    breakers=Breakers(
        DynamoBreakerStore(settings.breakers_table),
        settings.breaker_policy(),
        on_change=breaker_changed,
    ),
    spend=Spend(DynamoSpendLedger(settings.usage_table), load_tenants()),
)


def run(task: ExecuteTask) -> ExecutionResult:
    result = guarded_execute(guards, task.context, task.target, task.plan, tiers, time.time())
    # The dashboard's spend per tier and caller reads these lines (infra/spend.py).
    logger.info("answered", extra={"user_id": task.context.request.user_id,
                                   "tier": result.tier, "cost_usd": result.cost_usd})  # fmt: skip
    return result


# The key is scoped per user: another user's identical key is another request. The whole
# request must match too: a reused key with a different body is the caller's mistake (422),
# never a reason to hand back an answer to another question.
run_once = Once(
    run,
    data_keyword="task",
    output=ExecutionResult,
    table=settings.idempotency_table,
    key="context.request.[user_id, idempotency_key]",
    payload="context.request",
    ttl_s=settings.idempotency_ttl_s,
)


@lambda_handler(ExecuteTask, once=run_once)
def handler(task: ExecuteTask, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=task.context.request_id, target=task.target.label)
    if task.context.request.idempotency_key is None:
        result = run(task)
    else:
        try:
            result = run_once(task)
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                "this idempotency key was already used for a different request"
            ) from None
        except IdempotencyAlreadyInProgressError:
            # The state machine retries this to wait for the first run, until the deadline.
            if time.time() - tiers.deadline_grace_s >= task.context.deadline_at:
                raise DeadlineExceeded(
                    "the first request with this idempotency key did not finish before the deadline"
                ) from None
            raise
    return result.model_dump(mode="json")
