"""Read-only API Lambda: GET /v1/models, GET /v1/nodes, GET /v1/decisions/{request_id}.

Same routes and bodies as the local API (mecroute.local.api), over the same adapters.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from mecroute.adapters.dynamodb import DynamoDecisionLog, DynamoModelRegistry, DynamoNodeDirectory
from mecroute.runtime.observability import logger, metrics, tracer
from mecroute.runtime.settings import ApiReadsSettings

settings = ApiReadsSettings.from_env()
registry = DynamoModelRegistry(settings.models_table)
directory = DynamoNodeDirectory(settings.nodes_table)
decisions = DynamoDecisionLog(settings.decisions_table)
app = APIGatewayRestResolver()


@app.get("/v1/models")
def list_models() -> dict[str, Any]:
    return {"models": [model.model_dump(mode="json") for model in registry.list_models()]}


@app.get("/v1/nodes")
def list_nodes() -> dict[str, Any]:
    return {"nodes": [node.model_dump(mode="json") for node in directory.list_nodes()]}


@app.get("/v1/decisions/<request_id>")
def get_decision(request_id: str) -> dict[str, Any] | Response[str]:
    record = decisions.get(request_id)
    if record is None:
        return Response(
            status_code=HTTPStatus.NOT_FOUND,
            content_type=content_types.APPLICATION_JSON,
            body='{"error": "NotFound", "message": "no decision with that id"}',
        )
    return record.model_dump(mode="json")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
