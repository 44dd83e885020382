"""Read-only API Lambda: GET /v1/models, GET /v1/nodes, GET /v1/usage, GET /v1/stats,
GET /v1/decisions/{request_id} (its owner's only).

Same routes and bodies as the local API (mecroute.local.api), over the same adapters.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from pydantic import TypeAdapter, ValidationError

from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.adapters.dynamodb import (
    DynamoDecisionLog,
    DynamoModelRegistry,
    DynamoNodeDirectory,
    DynamoStatsStore,
)
from mecroute.adapters.spend_ledger import DynamoSpendLedger
from mecroute.agents.breakers import Breakers
from mecroute.agents.spend import Spend
from mecroute.domain.chat import model_list
from mecroute.domain.errors import field_problems
from mecroute.domain.feedback import RequestId
from mecroute.domain.identity import proxy_event_user_id
from mecroute.domain.messages import LearnedStatistics
from mecroute.domain.request import Identifier
from mecroute.domain.spend import load_tenants
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.settings import ApiReadsSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = ApiReadsSettings.from_env()
registry = DynamoModelRegistry(settings.models_table)
directory = DynamoNodeDirectory(settings.nodes_table)
decisions = DynamoDecisionLog(settings.decisions_table)
learned = DynamoStatsStore(settings.stats_table)
breakers = Breakers(DynamoBreakerStore(settings.breakers_table), settings.breaker_policy())
spend = Spend(DynamoSpendLedger(settings.usage_table), load_tenants())
USER_ID: TypeAdapter[str] = TypeAdapter(Identifier)
app = APIGatewayRestResolver()
# A path parameter that cannot be a request id never reaches DynamoDB (whose keys stop at 2 KB).
REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)


@app.get("/v1/models")
def list_models() -> dict[str, Any]:
    return model_list(registry.list_models())


@app.get("/v1/nodes")
def list_nodes() -> dict[str, Any]:
    """The node records (named by id: addresses stay inside, agents find them in the nodes
    table), and every circuit breaker with its state, reason and cooldown."""
    return {
        "nodes": [
            node.model_dump(mode="json", exclude={"endpoint"}) for node in directory.list_nodes()
        ],
        "breakers": [seen.model_dump(mode="json") for seen in breakers.views()],
    }


@app.get("/v1/stats")
def list_stats() -> dict[str, Any]:
    """What the learning loop has learned: per tier, node and model, and the regional path's
    routing overhead (the aggregator's table)."""
    found = sorted(learned.list_stats(), key=lambda stat: (stat.tier, stat.node_id, stat.model_id))
    answer = LearnedStatistics(stats=found, routing_overhead=learned.get_overhead("regional"))
    return answer.model_dump(mode="json")


def _caller() -> str | None:
    """The verified caller's user id (mecroute.domain.identity); None: nobody was verified."""
    return proxy_event_user_id(app.current_event.raw_event.get("requestContext"))


@app.get("/v1/usage")
def usage() -> dict[str, Any] | Response[str]:
    """The caller's spend today and this month, each against its budget and when it resets.
    A verified caller sees its own; `user_id` then names nobody else."""
    try:
        user_id = _caller() or USER_ID.validate_python(
            app.current_event.get_query_string_value("user_id", "anonymous")
        )
    except ValidationError as error:
        return _invalid("user_id", "invalid user id", error)
    return spend.usage(user_id).model_dump(mode="json")


@app.get("/v1/decisions/<request_id>")
def get_decision(request_id: str) -> dict[str, Any] | Response[str]:
    """The record, for its owner only: another caller's id answers as a missing one."""
    try:
        request_id = REQUEST_ID.validate_python(request_id)
    except ValidationError as error:
        return _invalid("request_id", "invalid request id", error)
    record = decisions.get(request_id)
    caller = _caller()
    if record is None or (caller is not None and record.user_id != caller):
        return Response(
            status_code=HTTPStatus.NOT_FOUND,
            content_type=content_types.APPLICATION_JSON,
            body='{"error": "NotFound", "message": "no decision with that id"}',
        )
    return record.model_dump(mode="json")


def _invalid(field: str, message: str, error: ValidationError) -> Response[str]:
    """400 naming the one field at fault (a path or query parameter)."""
    return Response(
        status_code=HTTPStatus.BAD_REQUEST,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(
            {
                "error": "InvalidRequest",
                "message": message,
                "problems": [
                    {"field": field, "problem": p["problem"]} for p in field_problems(error)
                ],
            }
        ),
    )


@lambda_handler()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
