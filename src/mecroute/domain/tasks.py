"""The payload each state of the pipeline hands its agent (built by the ASL's Parameters)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mecroute.domain.messages import (
    AttemptFailure,
    CachePlan,
    Candidate,
    ContextAnalysis,
    ExecutionResult,
    ResourceSnapshot,
    RoutingDecision,
)


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalyzeContextTask(Task):
    request_id: str = Field(min_length=1, max_length=128)
    # Left raw on purpose: the context agent validates it and names every bad field.
    request: Any


class AssessResourcesTask(Task):
    context: ContextAnalysis


class RouteRequestTask(Task):
    context: ContextAnalysis
    resources: ResourceSnapshot


class PrepareModelTask(Task):
    context: ContextAnalysis
    target: Candidate


class ExecuteTask(Task):
    context: ContextAnalysis
    target: Candidate
    plan: CachePlan


class StepFunctionsError(Task):
    """What a Catch puts at its ResultPath."""

    Error: str
    Cause: str = ""


class Attempts(Task):
    """The fallback loop's cursor: which candidate is next and what failed so far."""

    index: int = Field(ge=0)
    count: int = Field(ge=0)
    failures: list[AttemptFailure] = Field(default_factory=list)


class AttemptFailedTask(Task):
    action: Literal["attempt_failed"]
    request_id: str
    target: Candidate
    error: StepFunctionsError
    attempts: Attempts


class SucceededTask(Task):
    action: Literal["succeeded"]
    context: ContextAnalysis
    decision: RoutingDecision
    result: ExecutionResult
    failures: list[AttemptFailure] = Field(default_factory=list)


class FailedTask(Task):
    action: Literal["failed"]
    error: Literal["NoFeasibleRoute", "NoTierAvailable"]
    context: ContextAnalysis
    decision: RoutingDecision
    failures: list[AttemptFailure] = Field(default_factory=list)


class RejectedTask(Task):
    action: Literal["rejected"]
    request_id: str
    error: StepFunctionsError


MonitorTask = Annotated[
    AttemptFailedTask | SucceededTask | FailedTask | RejectedTask, Field(discriminator="action")
]
