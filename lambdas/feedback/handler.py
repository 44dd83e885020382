"""Feedback Lambda: POST /v1/feedback, validated, attributed, streamed once per submission."""

from __future__ import annotations

import json
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from mecroute.adapters.dynamodb import DynamoDecisionLog
from mecroute.adapters.streams import KinesisMetricsStream
from mecroute.agents import feedback as logic
from mecroute.domain.errors import field_problems
from mecroute.domain.feedback import Feedback, FeedbackReceipt
from mecroute.domain.identity import proxy_event_user_id
from mecroute.lambda_support.handler import lambda_handler
from mecroute.lambda_support.idempotency import Once
from mecroute.lambda_support.observability import metrics
from mecroute.lambda_support.settings import FeedbackSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = FeedbackSettings.from_env()
decisions = DynamoDecisionLog(settings.decisions_table)
stream = KinesisMetricsStream(settings.metrics_stream)
app = APIGatewayRestResolver()


def _json(status: HTTPStatus, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _record(feedback: Feedback) -> FeedbackReceipt:
    return logic.record_feedback(feedback, decisions, stream, time.time())


# A client retrying the same verdict must not count twice in the learned statistics.
record = Once(
    _record,
    data_keyword="feedback",
    output=FeedbackReceipt,
    table=settings.idempotency_table,
    key="[request_id, user_id]",
    ttl_s=settings.feedback_window_s,
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
    caller = proxy_event_user_id(app.current_event.raw_event.get("requestContext"))
    if caller is not None:  # the verified caller's own, whatever the body says
        feedback = feedback.model_copy(update={"user_id": caller})
    try:
        receipt = record(feedback)
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


@lambda_handler(once=record)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
