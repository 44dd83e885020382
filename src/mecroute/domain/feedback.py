"""Caller feedback on one routed request: what the API accepts and answers (the stream event
is `mecroute.domain.events.FeedbackEvent`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mecroute.domain.request import Identifier, StrictModel

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class Feedback(StrictModel):
    """`POST /v1/feedback`: the caller's verdict on a request it sent earlier."""

    request_id: RequestId = Field(description="The request id the inference answer carried.")
    user_id: Identifier = Field(
        default="anonymous",
        description="Only where callers are not verified: a verified caller (API key, SigV4) "
        "is the user, whatever this says. Must match the user id of the original request.",
    )
    rating: int = Field(ge=1, le=5, description="1 = useless answer, 5 = exactly what was needed.")
    correct: bool | None = Field(
        default=None, description="Whether the answer was right, when the caller can tell."
    )
    observed_latency_ms: float | None = Field(
        default=None,
        ge=0,
        le=600_000,
        description="End-to-end latency the client measured, its own network included.",
    )
    comment: str | None = Field(default=None, max_length=1000)


class FeedbackReceipt(BaseModel):
    """What `POST /v1/feedback` answers; a repeated submission gets the first receipt back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    accepted: bool
    recorded_at: float
