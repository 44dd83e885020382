"""What goes on the metrics stream: one typed event per outcome, failed request and piece of
caller feedback. The monitor and the feedback API write them; the aggregator and the data lake
read them; `STREAM_EVENT` parses any of them by its `kind`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mecroute.domain.estimates import RoutingPath
from mecroute.domain.registry import Tier


class StreamEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    request_id: str
    at: float


class OutcomeEvent(StreamEvent):
    """One attempt on one place (tier, node, model): what the learning loop learns from.

    `replay` marks an idempotent repeat: nothing ran again, so nothing is learned or charged.
    `event_id` (`<request_id>:<n>`) lets a consumer drop a duplicate of a redriven record.
    """

    kind: Literal["outcome", "replay"] = "outcome"
    event_id: str
    tier: Tier
    node_id: str = "-"
    model_id: str
    success: bool
    latency_ms: float | None
    sla_met: bool = False
    cost_usd: float = 0.0
    error: str | None = None
    from_cache: bool = False
    fallbacks: int = 0
    replay_of: str | None = None
    # The states' own time in the regional path (issue 12); None for a failed attempt.
    routing_overhead_ms: float | None = None
    # Which path decided it: an edge gateway's overhead is learned apart from the region's.
    routing_path: RoutingPath = "regional"


class RequestFailedEvent(StreamEvent):
    """A request that got no answer: the caller's doing (`rejection`) or the pipeline's."""

    kind: Literal["rejection", "failure"]
    event_id: str
    error: str | None


class FeedbackEvent(StreamEvent):
    """A caller's verdict, attributed to the tier/node/model that answered."""

    kind: Literal["feedback"] = "feedback"
    user_id: str
    tier: Tier | None
    node_id: str
    model_id: str | None
    rating: int
    correct: bool | None
    observed_latency_ms: float | None


# What the monitor publishes for one request (a parked record's events are these too).
RecordEvent = Annotated[OutcomeEvent | RequestFailedEvent, Field(discriminator="kind")]
AnyStreamEvent = Annotated[
    OutcomeEvent | RequestFailedEvent | FeedbackEvent, Field(discriminator="kind")
]
STREAM_EVENT: TypeAdapter[AnyStreamEvent] = TypeAdapter(AnyStreamEvent)
