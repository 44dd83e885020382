"""Caller feedback: attributed to the tier, node and model that answered, then streamed."""

from __future__ import annotations

from mecroute.adapters.ports import DecisionLog, MetricsStream
from mecroute.domain.events import FeedbackEvent
from mecroute.domain.feedback import Feedback, FeedbackReceipt


class UnknownRequest(LookupError):
    """No decision with that request id for that user (both cases answer the same: 404)."""


def record_feedback(
    feedback: Feedback, decisions: DecisionLog, stream: MetricsStream, now: float
) -> FeedbackReceipt:
    record = decisions.get(feedback.request_id)
    # Someone else's request id must look exactly like an unknown one.
    if record is None or record.user_id != feedback.user_id:
        raise UnknownRequest(feedback.request_id)
    result = record.result
    event = FeedbackEvent(
        request_id=feedback.request_id,
        user_id=feedback.user_id,
        tier=result.tier if result else None,
        node_id=(result.node_id if result else None) or "-",
        model_id=result.model_id if result else None,
        rating=feedback.rating,
        correct=feedback.correct,
        observed_latency_ms=feedback.observed_latency_ms,
        at=now,
    )
    stream.publish(feedback.request_id, event.model_dump(mode="json"))
    return FeedbackReceipt(request_id=feedback.request_id, accepted=True, recorded_at=now)
