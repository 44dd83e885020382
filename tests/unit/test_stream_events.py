"""Typed stream events: what the monitor publishes parses back by kind, and one rule says
which ended requests are rejections."""

import pytest
from pydantic import ValidationError

from mecroute.agents import monitor
from mecroute.domain.errors import is_rejection
from mecroute.domain.events import STREAM_EVENT, OutcomeEvent, RequestFailedEvent
from mecroute.domain.messages import MonitorRecord


def ended(error: str) -> MonitorRecord:
    return MonitorRecord(
        request_id="req-9",
        user_id="u",
        status="failed",
        error=error,
        error_detail="",
        decision=None,
        result=None,
        sla_met=False,
        recorded_at=5.0,
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("InvalidRequest", "rejection"),
        ("IdempotencyKeyReused", "rejection"),
        ("NoTierAvailable", "failure"),
        ("States.Timeout", "failure"),
    ],
)
def test_the_stream_and_the_metrics_agree_on_what_is_a_rejection(error: str, kind: str):
    (event,) = monitor.events_for(ended(error))
    assert isinstance(event, RequestFailedEvent)
    assert event.kind == kind
    assert is_rejection(error) == (kind == "rejection")


def test_every_published_event_parses_back_into_its_model():
    (event,) = monitor.events_for(ended("IdempotencyKeyReused"))
    assert STREAM_EVENT.validate_json(event.model_dump_json()) == event
    outcome = OutcomeEvent(
        event_id="r:0", request_id="r", tier="mec", model_id="m", success=True,
        latency_ms=12.5, at=1.0,
    )  # fmt: skip
    assert STREAM_EVENT.validate_json(outcome.model_dump_json()) == outcome


def test_an_event_of_unknown_kind_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="kind"):
        STREAM_EVENT.validate_python({"kind": "gossip", "request_id": "r", "at": 1.0})
