"""Feedback Lambda: POST /v1/feedback, validated, attributed, streamed once per submission."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from mecroute.adapters.aws import CLIENT_CONFIG
from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import feedback as logic
from mecroute.domain.errors import field_problems
from mecroute.domain.feedback import Feedback, FeedbackReceipt
from mecroute.lambda_support.observability import logger, metrics, tracer
from mecroute.lambda_support.settings import FeedbackSettings

settings = FeedbackSettings.from_env()
decisions = DynamoDecisionLog(settings.decisions_table)
stream = KinesisMetricsStream(settings.metrics_stream)
# A client retrying the same verdict must not count twice in the learned statistics.
idempotency = IdempotencyConfig(
    event_key_jmespath="[request_id, user_id]",
    expires_after_seconds=settings.feedback_window_s,
)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table, boto_config=CLIENT_CONFIG
)
app = APIGatewayRestResolver()


def _json(status: HTTPStatus, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _record(feedback: Feedback) -> FeedbackReceipt:
    return logic.record_feedback(feedback, decisions, stream, time.time())


# Powertools' decorator is untyped; applied by hand, the result keeps its signature here.
record: Callable[..., FeedbackReceipt] = idempotent_function(
    _record,
    data_keyword_argument="feedback",
    persistence_store=persistence,
    config=idempotency,
    # An instance, not the class: the class would read the return annotation, a string here.
    output_serializer=PydanticSerializer(model=FeedbackReceipt),
)


@app.post("/v1/feedback")
def post_feedback() -> Response[str]:
    request_id = app.current_event.request_context.request_id
    try:
        feedback = Feedback.model_validate_json(app.current_event.body or "")
    except ValidationError as error:
        return _json(
            HTTPStatus.BAD_REQUEST,
            {
                "error": "InvalidRequest",
                "message": "invalid feedback",
                "problems": field_problems(error),
                "request_id": request_id,
            },
        )
    try:
        receipt = record(feedback=feedback)
    except logic.UnknownRequest:
        return _json(
            HTTPStatus.NOT_FOUND,
            {
                "error": "NotFound",
                "message": "no decision with that id for that user",
                "request_id": request_id,
            },
        )
    metrics.add_metric(name="Feedback", unit=MetricUnit.Count, value=1)
    return _json(HTTPStatus.ACCEPTED, receipt.model_dump(mode="json"))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
